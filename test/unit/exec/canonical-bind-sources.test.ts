// Bind sources go to the starter resolved (it follows no symbolic link in them); an
// optional one that does not resolve is left out, as the starter leaves out one it
// cannot find, rather than reach it as a link that stops the start.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { canonicalBindSources } from '../../../src/exec/launch.js';
import { makeTmpDir } from '../image/support.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await makeTmpDir());
  mkdirSync(join(dir, 'real'));
  symlinkSync('real', join(dir, 'link'));
  symlinkSync('nowhere', join(dir, 'dangling'));
});
afterAll(() => cleanup());

describe('canonicalBindSources', () => {
  it('resolves links in bind sources, and leaves other operations and resolved sources alone', () => {
    const kept = join(dir, 'link-resolved-by-the-caller'); // not looked at: no such path
    const ops = canonicalBindSources(
      [
        { op: 'bind', src: join(dir, 'link'), dst: '/a', optional: true },
        { op: 'bind', src: kept, dst: '/b' },
        { op: 'tmpfs', dst: '/c', mode: 0o755 },
      ],
      new Set([kept]),
    );
    expect(ops).toEqual([
      { op: 'bind', src: join(dir, 'real'), dst: '/a', optional: true },
      { op: 'bind', src: kept, dst: '/b' },
      { op: 'tmpfs', dst: '/c', mode: 0o755 },
    ]);
  });

  it('leaves out an optional source that is a dangling link or absent; keeps a required one for the starter to refuse', () => {
    const ops = canonicalBindSources(
      [
        { op: 'bind', src: join(dir, 'dangling'), dst: '/etc/resolv.conf', readonly: true, optional: true },
        { op: 'bind', src: join(dir, 'absent'), dst: '/x', optional: true },
        { op: 'bind', src: join(dir, 'dangling'), dst: '/y' },
      ],
      new Set(),
    );
    expect(ops).toEqual([{ op: 'bind', src: join(dir, 'dangling'), dst: '/y' }]);
  });
});
