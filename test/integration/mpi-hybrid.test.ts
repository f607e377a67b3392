// The "hybrid" MPI model: the image brings its own MPI (Debian's Open MPI), SLURM's srun
// starts the ranks, each in `sif exec`, and PMIx reaches them inside. Real munged,
// slurmctld and slurmd (scripts/test-slurm.sh), run as the unprivileged test user.
import { execFileSync } from 'node:child_process';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, SIF_BIN, requireHost, runAsUser, userId, userTempDir } from '../support/unprivileged.js';
import { mpiImage, srunAsUser, testSlurm, type TestSlurm } from '../support/slurm.js';

// What PMIx and Open MPI say on stderr that the issue tracks: recorded, not asserted.
function notable(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => /PMIX ERROR|gds_ds12|single_copy_mechanism|different user namespaces/.test(l))
    .map((l) => l.replace(/^\[[^\]]*\] /, ''));
}

function record(what: string, stderr: string): void {
  const lines = [...new Set(notable(stderr))];
  process.stderr.write(`mpi-hybrid: ${what}: ${lines.length ? lines.join(' | ') : 'no PMIx or CMA messages'}\n`);
}

describe('hybrid MPI: Open MPI in the image, ranks started by srun --mpi=pmix or mpirun', () => {
  let image: string;
  let slurm: TestSlurm;
  beforeAll(async () => {
    requireHost();
    slurm = await testSlurm();
    image = mpiImage('mpi-openmpi');
  });

  it('starts 2 ranks that each know their rank and agree on the size', async () => {
    const r = await srunAsUser(['--mpi=pmix', '-n', '2', SIF_BIN, 'exec', image, '/opt/mpi/hello']);
    record('hello', r.stderr);
    expect({ exitCode: r.exitCode, stderr: r.exitCode === 0 ? '' : r.stderr }).toEqual({ exitCode: 0, stderr: '' });
    const ranks = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('hello '))
      .map((l) => /^hello rank=(\d+) size=(\d+) host=\S+ pid=(\d+) lib=(.*)$/.exec(l))
      .map((m) => ({ rank: m?.[1], size: m?.[2], pid: m?.[3], lib: m?.[4] }));
    expect(ranks).toHaveLength(2);
    expect(ranks.map((x) => x.rank).sort()).toEqual(['0', '1']);
    expect(ranks.map((x) => x.size)).toEqual(['2', '2']);
    for (const x of ranks) expect(x.lib).toBe('Open MPI v4.1.4');
    // Two processes, not one rank printed twice.
    expect(new Set(ranks.map((x) => x.pid)).size).toBe(2);
  }, 180_000);

  it("reaches the PMIx server's shared-memory data store: no PMIX ERROR in any rank", async () => {
    // The test user's home is the cwd, so nothing but sif's own bind shows the store in
    // slurmd's spool (.cache/test-slurm/d/pmix.<job>.<step>) inside the container.
    const r = await srunAsUser(['--mpi=pmix', '-n', '2', SIF_BIN, 'exec', image, 'sh', '-c',
      'test -d "$PMIX_DSTORE_21_BASE_PATH" && test -w "$PMIX_SERVER_TMPDIR" && exec /opt/mpi/hello']);
    record('data store', r.stderr);
    expect(r.stderr).not.toMatch(/PMIX ERROR/);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.match(/^hello rank=\d size=2 /gm)).toHaveLength(2);
  }, 180_000);

  // Ranks in containers of their own (--no-share) are in sibling user namespaces: Open
  // MPI sees that CMA cannot work ("different user namespaces"), and its shared-memory
  // BTL then hangs on 4 MiB messages unless told to use no single-copy mechanism at all.
  // One container per node (ranks in one user namespace, the default) lifts both.
  const noSingleCopy = { OMPI_MCA_btl_vader_single_copy_mechanism: 'none' };

  it('runs a ping-pong of 8 B, 1 MiB and 4 MiB whose data each side checks', async () => {
    const r = await srunAsUser(['--mpi=pmix', '-n', '2', SIF_BIN, 'exec', image, '/opt/mpi/pingpong'], { env: noSingleCopy });
    record('pingpong', r.stderr);
    const results = r.stdout.split('\n').filter((l) => l.startsWith('pingpong bytes='));
    process.stderr.write(`mpi-hybrid: ${results.join(' | ')}\n`);
    // pingpong checks every byte it receives and exits 1 on the first wrong one.
    expect({ exitCode: r.exitCode, stderr: r.exitCode === 0 ? '' : r.stderr }).toEqual({ exitCode: 0, stderr: '' });
    expect(r.stdout).toMatch(/^pingpong ok$/m);
    expect(results.map((l) => /bytes=(\d+)/.exec(l)?.[1])).toEqual(['8', '1048576', '4194304']);
    for (const l of results) {
      const m = /latency_us=([\d.]+) bandwidth_MBps=([\d.]+)/.exec(l);
      expect(m).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThan(0);
      // 8 B in ~0.5 ms on a loaded machine prints as 0.0 MB/s: only large messages
      // must show a rate (each side has checked the data already).
      if (Number(/bytes=(\d+)/.exec(l)![1]) >= 1 << 20) expect(Number(m![2])).toBeGreaterThan(0);
    }
  }, 300_000);

  // With --no-share and Open MPI's defaults the 4 MiB round trips never complete (a 45 s
  // hang): ranks in separate user namespaces. Shared, CMA carries them.
  it('with Open MPI defaults, completes the 4 MiB ping-pong (ranks share one container: CMA works)', async () => {
    const r = await srunAsUser(['--mpi=pmix', '-n', '2', '--time=1', SIF_BIN, 'exec', image, '/opt/mpi/pingpong', '5'], { timeoutMs: 45_000 });
    record('pingpong with defaults', r.stderr);
    expect(r.stderr).not.toMatch(/different user namespaces/);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^pingpong bytes=4194304 .*\n(.*\n)*pingpong ok$/m);
  }, 60_000);

  it('runs an sbatch script whose srun starts the ranks in sif exec, end to end', async () => {
    const dir = userTempDir('sif-sbatch-');
    const script = join(dir, 'job.sh');
    writeFileSync(script, `#!/bin/sh\n#SBATCH --ntasks=2\n#SBATCH --time=5\n#SBATCH --output=${dir}/out.txt\nsrun --mpi=pmix '${SIF_BIN}' exec '${image}' /opt/mpi/hello\n`, { mode: 0o755 });
    const r = await runAsUser('sbatch', ['--wait', '--quiet', script], { env: { SLURM_CONF: slurm.slurmConf }, cwd: dir, timeoutMs: 120_000 });
    const out = readFileSync(join(dir, 'out.txt'), 'utf8');
    expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({ exitCode: 0, stderr: '' });
    expect(out.match(/^hello rank=[01] size=2 /gm)?.sort()).toEqual(['hello rank=0 size=2 ', 'hello rank=1 size=2 ']);
  }, 180_000);

  it("runs under the host's mpirun (Open MPI), outside SLURM", async () => {
    const r = await runAsUser('mpirun', ['-n', '2', SIF_BIN, 'exec', image, '/opt/mpi/hello'], { timeoutMs: 120_000 });
    record('mpirun hello', r.stderr);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.match(/^hello rank=[01] size=2 /gm)?.sort()).toEqual(['hello rank=0 size=2 ', 'hello rank=1 size=2 ']);
  }, 180_000);

  it("runs the user's own program from the working directory under mpirun: mpirun -n 2 sif exec img ./hello", async () => {
    // Built on the host against the same Open MPI as the image's, as a user would.
    const dir = userTempDir('sif-mpirun-cwd-');
    execFileSync('mpicc', ['-O2', '-o', join(dir, 'hello'), join(FIXTURES, 'mpi', 'hello.c')]);
    const { uid, gid } = userId();
    chownSync(join(dir, 'hello'), uid, gid);
    const r = await runAsUser('mpirun', ['-n', '2', SIF_BIN, 'exec', image, './hello'], { cwd: dir, timeoutMs: 120_000 });
    record('mpirun ./hello', r.stderr);
    expect({ exitCode: r.exitCode, stderr: r.exitCode === 0 ? '' : r.stderr }).toEqual({ exitCode: 0, stderr: '' });
    expect(r.stdout.match(/^hello rank=[01] size=2 .* lib=Open MPI v4\.1\.4$/gm)).toHaveLength(2);
  }, 180_000);

  // Known gaps the MPI issue lists, skipped by name: make each a plain test when sif
  // handles it (--mpi's pass-through and binds).
  const twoRanks = (stdout: string) => stdout.match(/^hello rank=[01] size=2 /gm)?.sort();

  // The ranks share one container, hence its private /dev/shm (with --no-share each
  // rank has its own and shared-memory set-up fails); --mpi is to bind the host's.
  it('--contain: ranks on a node share one /dev/shm, their container\'s', async () => {
    const r = await srunAsUser(['--mpi=pmix', '-n', '2', '--time=1', SIF_BIN, 'exec', '--contain', image, '/opt/mpi/hello'], { timeoutMs: 60_000 });
    record('hello --contain', r.stderr);
    expect(r.stderr).not.toMatch(/shared memory initialization/);
    expect(r.exitCode).toBe(0);
    expect(twoRanks(r.stdout)).toEqual(['hello rank=0 size=2 ', 'hello rank=1 size=2 ']);
  }, 90_000);

  it('--cleanenv: PMIx still wires the ranks up (the launcher variables pass)', async () => {
    const r = await srunAsUser(['--mpi=pmix', '-n', '2', '--time=1', SIF_BIN, 'exec', '--cleanenv', image, '/opt/mpi/hello'], { timeoutMs: 60_000 });
    expect(r.exitCode).toBe(0);
    expect(twoRanks(r.stdout)).toEqual(['hello rank=0 size=2 ', 'hello rank=1 size=2 ']);
  }, 90_000);
});
