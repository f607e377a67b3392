// A hostile image as the unprivileged user: the worst case the unit tests found
// (test/unit/image/squashfs-hostile.test.ts, test/unit/gpu/cuda-compat.test.ts), a
// compat directory of 100,000 libcuda versions whose newest is a FIFO, beside a
// directory loop walked through long symlinks. --nv-compat reads it in bounded time,
// leaves the FIFO out, and writes nothing outside the container.
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { type CraftedNode, craftSquashfs } from '../support/crafted-squashfs.js';
import { REPO_ROOT, requireHost, sifAsUser, userEnv, userTempDir } from '../support/unprivileged.js';

const FAKE_ROOT = join(REPO_ROOT, '.cache', 'fake-nvidia');

beforeAll(() => {
  requireHost();
  execFileSync('bash', [join(REPO_ROOT, 'scripts', 'fake-nvidia.sh')], { stdio: 'inherit' });
});

it('sif doctor --gpu --nv-compat on a hostile compat directory ends in bounded time, the FIFO left out', async () => {
  const versions = Array.from({ length: 100_000 }, (_, i): [string, number] => [`libcuda.so.${570 + Math.floor(i / 1000)}.${i % 1000}.0`, 6]);
  const self = Array.from({ length: 800 }, () => 'self').join('/');
  const nodes: CraftedNode[] = [
    { kind: 'dir', entries: [['usr', 1]] }, // 0
    { kind: 'dir', entries: [['local', 2]] }, // 1 /usr
    { kind: 'dir', entries: [['cuda', 3], ['cuda-1.0', 5]] }, // 2 /usr/local
    { kind: 'dir', entries: [['compat', 4]] }, // 3 /usr/local/cuda
    { kind: 'dir', entries: [...versions, ['self', 4]], extended: true }, // 4 compat, a loop through "self"
    { kind: 'symlink', target: `cuda/compat/${self}` }, // 5 /usr/local/cuda-1.0
    { kind: 'fifo' }, // 6
  ];
  const dir = userTempDir('sif-hostile-');
  const image = join(dir, 'hostile.sqfs');
  craftSquashfs(image, { nodes });
  chmodSync(image, 0o644);
  const t0 = Date.now();
  const r = await sifAsUser(['doctor', '--gpu', '--nv-compat', image], { env: userEnv({ SIF_TEST_NVIDIA_ROOT: FAKE_ROOT }), timeoutMs: 60_000 });
  expect(Date.now() - t0).toBeLessThan(30_000);
  expect(r.signal).toBeNull();
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(r.stdout).toContain("the image's CUDA forward-compatibility libraries: driver 669.999.0 in /usr/local/cuda/compat");
  expect(r.stdout).toContain('--nv-compat: skip /usr/local/cuda/compat/libcuda.so.669.999.0: not a library of the host');
  expect(execFileSync('find', [dir, '-mindepth', '1']).toString().trim()).toBe(image); // nothing written beside it
}, 120_000);
