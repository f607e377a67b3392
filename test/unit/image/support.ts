// Shared helpers for the image tests: fixture paths, temp dirs, error assertions.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@jest/globals';
import { SifError, type SifErrorCode } from '../../../src/errors.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const fixtureDir = resolve(repoRoot, '../shared/fixtures/sif');
export const fixture = (name: string): string => join(fixtureDir, name);

export async function makeTmpDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sif-image-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Await `p`, expect a SifError with `code` whose message contains every `mentions`. */
export async function expectSifError(p: Promise<unknown>, code: SifErrorCode, ...mentions: string[]): Promise<SifError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SifError);
  const se = err as SifError;
  expect(se.code).toBe(code);
  for (const m of mentions) expect(se.message).toContain(m);
  return se;
}

export function expectSifErrorSync(fn: () => unknown, code: SifErrorCode, ...mentions: string[]): SifError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SifError);
  const se = err as SifError;
  expect(se.code).toBe(code);
  for (const m of mentions) expect(se.message).toContain(m);
  return se;
}
