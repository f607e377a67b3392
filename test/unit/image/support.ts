// Shared helpers for the image tests: fixture paths, temp dirs, error assertions.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@jest/globals';
import { SifError, type SifErrorCode } from '../../../src/errors.js';
import { imageInfo } from '../../../src/image/open-image.js';
import { withImageFd } from '../../../src/image/sif-reader.js';
import { SquashfsReader } from '../../../src/image/squashfs-reader.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const fixtureDir = resolve(repoRoot, 'test/fixtures/sif');
export const fixture = (name: string): string => join(fixtureDir, name);

export async function makeTmpDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sif-image-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Expects `err` to be a SifError with `code` whose message contains every `mentions`. */
function checkSifError(err: unknown, code: SifErrorCode, mentions: string[]): SifError {
  expect(err).toBeInstanceOf(SifError);
  const se = err as SifError;
  expect(se.code).toBe(code);
  for (const m of mentions) expect(se.message).toContain(m);
  return se;
}

/** Await `p`, expect a SifError with `code` whose message contains every `mentions`. */
export async function expectSifError(p: Promise<unknown>, code: SifErrorCode, ...mentions: string[]): Promise<SifError> {
  try {
    await p;
  } catch (e) {
    return checkSifError(e, code, mentions);
  }
  return checkSifError(undefined, code, mentions);
}

export function expectSifErrorSync(fn: () => unknown, code: SifErrorCode, ...mentions: string[]): SifError {
  try {
    fn();
  } catch (e) {
    return checkSifError(e, code, mentions);
  }
  return checkSifError(undefined, code, mentions);
}

/** Runs fn with a reader of the image (SIF or bare squashfs) at `path`. */
export function withReader<T>(path: string, fn: (r: SquashfsReader) => T, maxFileBytes?: number): T {
  return withImageFd(path, (fd, size) => {
    const info = imageInfo(fd, size, path);
    return fn(new SquashfsReader({ fd, offset: info.rootfsOffset, superblock: info.superblock, file: path }, maxFileBytes));
  });
}
