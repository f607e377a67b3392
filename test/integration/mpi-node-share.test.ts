// One container per node: ranks of one srun step on one node share one container (one
// FUSE server, one user namespace), under real SLURM (scripts/test-slurm.sh), as the
// unprivileged test user. What the ranks see is printed by them; what runs on the host
// (FUSE servers, processes, lock files) is looked at from here, as root.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, SIF_BIN, requireHost, runAsUser, spawnAsUser, testImagesDir, userId, userTempDir } from '../support/unprivileged.js';
import { mpiImage, testSlurm, type TestSlurm } from '../support/slurm.js';
import { fuseServers, heldLockFiles, link, NS_LINE, processesIn, until, views, type RankView } from '../support/node-share.js';

describe('one container per node for the ranks of a job step', () => {
  let slurm: TestSlurm;
  let image: string;
  let cmaPeek: string;
  beforeAll(async () => {
    requireHost();
    slurm = await testSlurm();
    image = mpiImage('mpi-openmpi');
    // Static, so it runs in any image; under /tmp, which containers see at the same path.
    const dir = userTempDir('sif-cma-');
    chmodSync(dir, 0o755);
    cmaPeek = join(dir, 'cma-peek');
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-o', cmaPeek, join(REPO_ROOT, 'test/native/cma-peek.c')]);
  }, 120_000);

  const srunEnv = () => ({ SLURM_CONF: slurm.slurmConf });

  /**
   * Starts `srun -n 2 ...` whose ranks print their NS_LINE, then wait for the file
   * `go` in a fresh directory; returns the ranks' views while they wait, and how to end them.
   */
  async function twoRanksWaiting(sifArgs: string[]): Promise<{ ranks: RankView[]; finish: () => Promise<{ exitCode: number | null; stdout: string; stderr: string }> }> {
    const dir = userTempDir('sif-share-');
    const wait = `while [ ! -e ${dir}/go ]; do sleep 0.05; done`;
    const srun = spawnAsUser('srun', ['--time=2', '-n', '2', SIF_BIN, 'exec', ...sifArgs, image, 'sh', '-c', `${NS_LINE}; ${wait}`], {
      env: srunEnv(),
      timeoutMs: 300_000,
    });
    let out = '';
    srun.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const done = srun.then((r) => r);
    await until('both ranks', () => views(out).length === 2 || (srun.exitCode ?? null) !== null, 240_000);
    return {
      ranks: views(out),
      finish: async () => {
        writeFileSync(join(dir, 'go'), '');
        const r = await done;
        return { exitCode: r.exitCode ?? null, stdout: out, stderr: String(r.stderr ?? '') };
      },
    };
  }

  it('shares one FUSE server and one user namespace between two ranks; --no-share makes two', async () => {
    const shared = await twoRanksWaiting([]);
    const sharedNs = new Set(shared.ranks.map((r) => r.mnt));
    const sharedServers = fuseServers(sharedNs);
    const sharedEnd = await shared.finish();
    const apart = await twoRanksWaiting(['--no-share']);
    const apartNs = new Set(apart.ranks.map((r) => r.mnt));
    const apartServers = fuseServers(apartNs);
    const apartEnd = await apart.finish();
    process.stderr.write(`mpi-node-share: FUSE servers for 2 ranks: shared ${sharedServers.length}, --no-share ${apartServers.length}\n`);

    expect(sharedEnd.exitCode).toBe(0);
    expect(shared.ranks).toHaveLength(2);
    const [a, b] = shared.ranks;
    expect({ user: a!.user === b!.user, mnt: a!.mnt === b!.mnt, usr: a!.usr === b!.usr }).toEqual({ user: true, mnt: true, usr: true });
    expect(sharedServers).toHaveLength(1);

    expect(apartEnd.exitCode).toBe(0);
    expect(apart.ranks).toHaveLength(2);
    const [c, d] = apart.ranks;
    expect({ user: c!.user === d!.user, mnt: c!.mnt === d!.mnt, usr: c!.usr === d!.usr }).toEqual({ user: false, mnt: false, usr: false });
    expect(apartServers).toHaveLength(2);
  }, 600_000);

  it('lets ranks read each other with Cross Memory Attach when shared; EPERM with --no-share', async () => {
    const cma = async (extra: string[]) => {
      const dir = userTempDir('sif-cma-run-');
      const r = await runAsUser('srun', ['--time=2', '-n', '2', SIF_BIN, 'exec', ...extra, image, 'sh', '-c', `exec ${cmaPeek} ${dir} $SLURM_PROCID`], {
        env: srunEnv(),
        timeoutMs: 300_000,
      });
      return { ...r, lines: r.stdout.split('\n').filter((l) => l.startsWith('cma ')).sort() };
    };
    const shared = await cma([]);
    const apart = await cma(['--no-share']);
    process.stderr.write(`mpi-node-share: shared: ${shared.lines.join(' | ')}; --no-share: ${apart.lines.join(' | ')}\n`);
    expect({ exitCode: shared.exitCode, lines: shared.lines }).toEqual({ exitCode: 0, lines: ['cma rank=0 ok', 'cma rank=1 ok'] });
    expect({ exitCode: apart.exitCode, lines: apart.lines }).toEqual({ exitCode: 0, lines: ['cma rank=0 errno=EPERM', 'cma rank=1 errno=EPERM'] });
  }, 600_000);

  it("shares under the host's mpirun too (Open MPI's PMIx namespace names the job), outside SLURM", async () => {
    const dir = userTempDir('sif-cma-mpirun-');
    const r = await runAsUser('mpirun', ['-n', '2', SIF_BIN, 'exec', image, 'sh', '-c',
      `echo "ns rank=$OMPI_COMM_WORLD_RANK user=$(readlink /proc/self/ns/user) mnt=$(readlink /proc/self/ns/mnt) usr=$(stat -c %d /usr)"; exec ${cmaPeek} ${dir} $OMPI_COMM_WORLD_RANK`], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(0);
    const v = views(r.stdout);
    expect(v).toHaveLength(2);
    expect(v[0]!.user).toBe(v[1]!.user);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('cma ')).sort()).toEqual(['cma rank=0 ok', 'cma rank=1 ok']);
  }, 400_000);

  it("keeps the others' container when the first rank, whose sif made it, crashes", async () => {
    const dir = userTempDir('sif-crash-');
    // Rank 0 starts first, so it makes the container; it crashes once rank 1 is in,
    // and rank 1 then still reads files of the image that nothing has read yet.
    const rank0 = `${NS_LINE}; touch ${dir}/made; while [ ! -e ${dir}/joined ]; do sleep 0.05; done; touch ${dir}/crashing; kill -SEGV $$`;
    const rank1 = `${NS_LINE}; touch ${dir}/joined; while [ ! -e ${dir}/crashing ]; do sleep 0.05; done; sleep 1; ` +
      'n=$(find /usr/lib /usr/share -type f | head -n 300 | xargs cat | wc -c) && echo "rank 1 read $n bytes"';
    const script = `if [ "$SLURM_PROCID" = 0 ]; then exec ${SIF_BIN} exec ${image} sh -c '${rank0}'; fi; ` +
      `while [ ! -e ${dir}/made ]; do sleep 0.05; done; exec ${SIF_BIN} exec ${image} sh -c '${rank1}'`;
    // Without --kill-on-bad-exit: srun leaves rank 1 running when rank 0 dies.
    const r = await runAsUser('srun', ['--time=2', '-n', '2', 'sh', '-c', script], { env: srunEnv(), timeoutMs: 300_000 });
    const ranks = views(r.stdout);
    expect(ranks.map((v) => v.rank)).toEqual(['0', '1']);
    expect(ranks[0]!.user).toBe(ranks[1]!.user);
    expect(r.stdout).toMatch(/^rank 1 read [1-9]\d* bytes$/m);
    expect(r.stderr).toMatch(/task 0: (Segmentation fault|Exited with exit code 139)/);
    expect(r.stderr).not.toMatch(/task 1/);
  }, 400_000);

  it('leaves no process, namespace or held lock behind after scancel mid-run', async () => {
    const name = `sif-share-scancel-${process.pid}`;
    // A share directory of this test's own (other runs of the user's share /tmp/sif-<uid>).
    const xdg = userTempDir('sif-scancel-xdg-');
    const shareDir = join(xdg, 'sif');
    // What a server killed outright leaves: free lock files, which the next server's end removes.
    const { uid, gid } = userId();
    const stale = ['lock', 'live', 'users'].map((s) => join(shareDir, `5ca1ab1e${process.pid}.${s}`));
    if (!existsSync(shareDir)) mkdirSync(shareDir, { mode: 0o700 });
    chownSync(shareDir, uid, gid);
    for (const f of stale) {
      writeFileSync(f, '', { mode: 0o600 });
      chownSync(f, uid, gid);
    }
    const srun = spawnAsUser('srun', ['--time=2', `--job-name=${name}`, '-n', '2', SIF_BIN, 'exec', image, 'sh', '-c', `${NS_LINE}; sleep 120`], {
      env: { ...srunEnv(), XDG_RUNTIME_DIR: xdg },
      timeoutMs: 300_000,
    });
    let out = '';
    srun.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await until('both ranks', () => views(out).length === 2, 240_000);
    const ns = new Set(views(out).map((v) => v.mnt));
    expect(ns.size).toBe(1);
    const before = processesIn(ns).length;
    const cancel = await runAsUser('scancel', [`--name=${name}`], { env: srunEnv(), timeoutMs: 30_000 });
    expect(cancel.exitCode).toBe(0);
    await srun;
    // KillWait is 5 s: SIGTERM, then SIGKILL for what is left; a server that scancel's
    // SIGTERM did not reach waits its 10 s for a next step first.
    const stalePresent = () => stale.filter((f) => existsSync(f));
    await until('the containers to go', () => processesIn(ns).length === 0 && heldLockFiles(shareDir).length === 0 && stalePresent().length === 0, 40_000).catch(() => {});
    const left = processesIn(ns).map((p) => `${p} ${link(`/proc/${p}/exe`) ?? ''}`);
    // Every lock file left is free: flock -n as root gets each at once.
    const files = existsSync(shareDir) ? readdirSync(shareDir) : [];
    const held = heldLockFiles(shareDir);
    process.stderr.write(`mpi-node-share: scancel: ${before} processes in the container before, ${left.length} after; lock files left ${files.length}, held ${held.length}\n`);
    expect(before).toBeGreaterThan(0);
    expect({ left, held, stale: stalePresent() }).toEqual({ left: [], held: [], stale: [] });
  }, 400_000);

  it('shares nothing between ranks with different images or mounts', async () => {
    const other = join(testImagesDir(), 'python.sqfs');
    const dir = userTempDir('sif-apart-');
    const pair = async (rank1: string) => {
      const script = `if [ "$SLURM_PROCID" = 0 ]; then exec ${SIF_BIN} exec ${image} sh -c '${NS_LINE}; sleep 1'; fi; exec ${rank1} sh -c '${NS_LINE}; sleep 1'`;
      const r = await runAsUser('srun', ['--time=2', '-n', '2', 'sh', '-c', script], { env: srunEnv(), timeoutMs: 300_000 });
      expect(r.exitCode).toBe(0);
      const v = views(r.stdout);
      expect(v).toHaveLength(2);
      return v[0]!.user === v[1]!.user;
    };
    expect(await pair(`${SIF_BIN} exec ${image}`)).toBe(true); // the control: same image, same mounts
    expect(await pair(`${SIF_BIN} exec ${other}`)).toBe(false);
    expect(await pair(`${SIF_BIN} exec -B ${dir}:/mnt ${image}`)).toBe(false);
    expect(await pair(`${SIF_BIN} exec --writable-tmpfs ${image}`)).toBe(false);
  }, 600_000);

  it('shares through no directory that others can enter or that is a symlink: a warning, then a container of its own', async () => {
    // The launcher's variables alone decide; no srun needed to see the starter refuse.
    const env = { SLURM_JOB_ID: '999999', SLURM_STEP_ID: '0', SLURM_STEP_NUM_TASKS: '2' };
    const { uid, gid } = userId();
    const open = userTempDir('sif-xdg-open-');
    mkdirSync(join(open, 'sif'), { mode: 0o755 });
    chownSync(join(open, 'sif'), uid, gid);
    chmodSync(join(open, 'sif'), 0o755);
    const linked = userTempDir('sif-xdg-link-');
    symlinkSync(userTempDir('sif-xdg-target-'), join(linked, 'sif'));
    for (const xdg of [open, linked]) {
      const r = await runAsUser(SIF_BIN, ['exec', image, 'true'], { env: { ...env, XDG_RUNTIME_DIR: xdg }, timeoutMs: 60_000 });
      expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({
        exitCode: 0,
        stderr: expect.stringMatching(new RegExp(`^sif: warning: not sharing the container between ranks: (cannot open )?${xdg}/sif`)),
      });
    }
  }, 120_000);

  it.each([
    ['gives each step of a job its own container with --share-linger 0, also steps that run at once', '--share-linger 0', false],
    ['lets steps of a job that run at once share one container when it may linger (the default)', '', true],
  ])('%s', async (_what, linger, together) => {
    const dir = userTempDir('sif-steps-');
    const step = (n: number) => `srun --overlap -n 2 ${SIF_BIN} exec ${linger} ${image} sh -c '${NS_LINE} step=${n}; sleep 1' > ${dir}/step${n}.txt`;
    const script = join(dir, 'job.sh');
    writeFileSync(script, `#!/bin/sh\n#SBATCH -n 2\n#SBATCH --time=2\n#SBATCH --output=${dir}/out.txt\n${step(1)} &\n${step(2)} &\nwait\n`, { mode: 0o755 });
    const r = await runAsUser('sbatch', ['--wait', '--quiet', script], { env: srunEnv(), cwd: dir, timeoutMs: 300_000 });
    expect(r.exitCode).toBe(0);
    const read = (n: number) => views(execFileSync('cat', [join(dir, `step${n}.txt`)], { encoding: 'utf8' }).replace(/ step=\d+$/gm, ''));
    const [s1, s2] = [read(1), read(2)];
    expect([s1.length, s2.length]).toEqual([2, 2]);
    expect(s1[0]!.user).toBe(s1[1]!.user);
    expect(s2[0]!.user).toBe(s2[1]!.user);
    expect(s1[0]!.user === s2[0]!.user).toBe(together);
  }, 400_000);
});
