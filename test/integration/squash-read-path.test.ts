// The starter's squashfs read path under sanitizers: the checks before mounting
// (native/starter/squash-check.c) and libsquashfuse with the bounds checks linked
// around it (squash-guards.c), driven by test/native/squash-walk.c with the calls the
// FUSE operations make. Images are what nothing vouches for: the walk must read good
// ones whole, and mutated ones (seconds of fuzzing here, seeded, so each run tries
// the same images) without a single bad read or a loop.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeBusyboxRootfs } from '../support/squashfs.js';
import { REPO_ROOT } from '../support/unprivileged.js';

const FUZZ_SECONDS = 8;
let dir: string;
let walker: string;
let entries: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sif-squash-walk-'));
  await execa('make', ['-s', '-C', join(REPO_ROOT, 'native', 'starter'), `OUT=${dir}`, 'squash-walk']);
  walker = join(dir, 'squash-walk');
  // What the walk reaches: many entries (a directory index), long names, symlinks,
  // fragments and full blocks, holes, xattrs inline and shared.
  const root = join(dir, 'root');
  await makeBusyboxRootfs(root);
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < 400; i++) writeFileSync(join(root, 'many', `${'n'.repeat(i % 200)}-${i}`), `${i}\n`.repeat(i % 50));
  writeFileSync(join(root, 'big'), Buffer.alloc(300_000, 7));
  writeFileSync(join(root, 'sparse'), Buffer.concat([Buffer.alloc(200_000), Buffer.from('end')]));
  symlinkSync('/etc/passwd', join(root, 'link'));
  for (const f of ['big', 'etc/passwd']) {
    await execa('setfattr', ['-n', 'user.sif', '-v', 'same-value', join(root, f)]);
  }
  await execa('setfattr', ['-n', 'security.capability', '-v', '0sAQAAAgAgAAAAAAAAAAAAAAAAAAA=', join(root, 'bin', 'busybox')]);
  entries = Number((await execa('find', [root])).stdout.split('\n').length);
  for (const [name, opts] of [
    ['raw', ['-noI', '-noD', '-noF', '-noX']],
    ['gzip', ['-comp', 'gzip']],
    ['zstd', ['-comp', 'zstd', '-b', '4096']],
  ] as const) {
    await execa('mksquashfs', [root, join(dir, `${name}.sqfs`), '-noappend', '-quiet', ...opts]);
  }
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the squashfs read path', () => {
  it.each(['raw', 'gzip', 'zstd'])('walks a good image whole (%s)', async (name) => {
    const r = await execa(walker, [join(dir, `${name}.sqfs`)]);
    expect(r.stdout).toBe(`walked ${entries}`);
  });

  // Without the guards this found, within seconds: a metadata cursor past its block
  // (a copy of (size_t)-N bytes: the SIGSEGV of issue 10), a 64 KiB name into a
  // 257-byte buffer, table indexes past their table, 4 GiB data blocks.
  it.each([
    ['raw', 1],
    ['gzip', 2],
    ['zstd', 3],
  ])('reads mutations of it without a bad read or a hang (%s, seed %d)', async (name, seed) => {
    const r = await execa(walker, ['--fuzz', join(dir, `${name}.sqfs`), String(FUZZ_SECONDS), String(seed)], {
      reject: false,
      timeout: (FUZZ_SECONDS + 30) * 1000,
    });
    expect({ exitCode: r.exitCode, stderr: r.stderr.slice(0, 4000) }).toEqual({ exitCode: 0, stderr: '' });
    // It did try images, and most got past the checks to squashfuse.
    const [, runs, refused] = /^runs (\d+) refused (\d+)$/.exec(r.stdout) ?? [];
    expect(Number(runs)).toBeGreaterThan(20);
    expect(Number(refused)).toBeLessThan(Number(runs) / 2);
  }, (FUZZ_SECONDS + 40) * 1000);
});
