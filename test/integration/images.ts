import { chmodSync, chownSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBusyboxRootfs, makeSquashfs } from '../support/squashfs.js';
import { userTempDir } from '../support/unprivileged.js';

/**
 * A small image for the engine's tests: busybox, a world-writable /scratch, a
 * non-executable file, and symlinks that try to lead out of the container.
 */
export async function makeTestImage(escapeTarget: string): Promise<string> {
  const dir = await userTempDir('sif-img-');
  const root = join(dir, 'root');
  mkdirSync(root);
  await makeBusyboxRootfs(root);
  mkdirSync(join(root, 'scratch'));
  chmodSync(join(root, 'scratch'), 0o1777);
  writeFileSync(join(root, 'bin', 'not-exec'), '#!/bin/sh\necho no\n', { mode: 0o644 });
  writeFileSync(join(root, 'bin', 'bad-format'), 'just text\n', { mode: 0o755 });
  // A setuid-root program (the image is packed as root, so it keeps owner and bit).
  mkdirSync(join(root, 'suid'));
  copyFileSync(join(root, 'bin', 'busybox'), join(root, 'suid', 'busybox'));
  chownSync(join(root, 'suid', 'busybox'), 0, 0);
  chmodSync(join(root, 'suid', 'busybox'), 0o4755);
  // Planted escapes: absolute and relative symlinks pointing at a host directory.
  symlinkSync(escapeTarget, join(root, 'escape-abs'));
  symlinkSync(`../../../../../../..${escapeTarget}`, join(root, 'escape-rel'));
  const out = join(dir, 'test.sqfs');
  await makeSquashfs(root, out);
  chmodSync(out, 0o644);
  return out;
}

/** A copy of a file, for patching bytes. */
export function copyTo(src: string, dir: string, name: string): string {
  const dst = join(dir, name);
  copyFileSync(src, dst);
  chmodSync(dst, 0o644);
  return dst;
}

/** A busybox image changed by edit(root) before packing: for images that try to harm the host. */
export async function makeEditedImage(edit: (root: string) => void): Promise<string> {
  const dir = await userTempDir('sif-img-');
  const root = join(dir, 'root');
  mkdirSync(root);
  await makeBusyboxRootfs(root);
  edit(root);
  const out = join(dir, 'edited.sqfs');
  await makeSquashfs(root, out);
  chmodSync(out, 0o644);
  return out;
}
