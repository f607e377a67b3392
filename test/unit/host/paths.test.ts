import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalHostPath } from '../../../src/host/paths.js';

describe('canonicalHostPath', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sif-paths-'));
    mkdirSync(join(dir, 'real'));
    symlinkSync('real', join(dir, 'link'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves every symbolic link on the path (the starter follows none)', () => {
    const real = canonicalHostPath(join(dir, 'real'));
    expect(canonicalHostPath(join(dir, 'link'))).toBe(real);
    expect(canonicalHostPath(`${join(dir, 'link')}/`)).toBe(real);
  });

  it('gives undefined for a path that does not exist, or a dangling link', () => {
    expect(canonicalHostPath(join(dir, 'link', 'missing'))).toBeUndefined();
    symlinkSync('nowhere', join(dir, 'dangling'));
    expect(canonicalHostPath(join(dir, 'dangling'))).toBeUndefined();
  });
});
