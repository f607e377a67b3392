// Helpers for the builder's integration tests: build as the unprivileged user, then
// unpack the image's squashfs as root to compare it with a reference tree.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openImage } from '../../src/image/open-image.js';
import { treeDifferences, treeManifest } from '../support/tree-compare.js';
import { sifAsUser, type RunOptions, type RunResult } from '../support/unprivileged.js';

/** What sif adds to every OCI image; the rest must equal `umoci unpack`. */
export const SIF_ADDED = ['.singularity.d', 'singularity', 'environment', 'etc', 'etc/hosts', 'etc/resolv.conf', 'var', 'proc', 'sys', 'dev', 'home', 'tmp'];

export function buildAsUser(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return sifAsUser(['build', ...args], { timeoutMs: 300_000, ...opts });
}

/** The image's root filesystem unpacked by unsquashfs (as root, owners and xattrs kept). */
export async function unpackImage(sif: string): Promise<string> {
  const info = openImage(sif);
  const dest = join(mkdtempSync('/tmp/sif-unpacked-'), 'root');
  execFileSync('unsquashfs', ['-q', '-n', '-o', String(info.rootfsOffset), '-d', dest, sif], { stdio: ['ignore', 'ignore', 'pipe'] });
  return dest;
}

/** Differences between a reference tree and the image's, ignoring what sif adds (when the reference lacks it). */
export function compareWithReference(reference: string, unpacked: string): string[] {
  const want = treeManifest(reference);
  const skip = SIF_ADDED.filter((p) => !(p in want));
  const got = treeManifest(unpacked, [...skip, '.singularity.d', 'singularity', 'environment']);
  for (const p of ['.singularity.d', 'singularity', 'environment']) delete want[p];
  return treeDifferences(want, got);
}

/** Files left in `dir` besides `keep`: temp files of an aborted build would show here. */
export function leftovers(dir: string, keep: string[] = []): string[] {
  return readdirSync(dir).filter((n) => !keep.includes(n));
}
