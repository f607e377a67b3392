// A node's container lingers after its last rank, so that the job's next step joins it:
// consecutive srun steps of one allocation (salloc --no-shell, then srun --jobid), under
// real SLURM (scripts/test-slurm.sh, proctrack/linuxproc), as the unprivileged test user.
// Each test has a share directory of its own (XDG_RUNTIME_DIR), so that what it finds
// there is its own; processes are found on the host, as root, by the namespaces the
// steps print.
import { copyFileSync, chmodSync, existsSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { SIF_BIN, requireHost, runAsUser, spawnAsUser, testImagesDir, userTempDir } from '../support/unprivileged.js';
import { mpiImage, testSlurm, type TestSlurm } from '../support/slurm.js';
import { fuseServers, heldLockFiles, NS_LINE, processesIn, until, views } from '../support/node-share.js';

describe('a container that waits for the next step of its job', () => {
  let slurm: TestSlurm;
  let image: string;
  beforeAll(async () => {
    requireHost();
    slurm = await testSlurm();
    image = mpiImage('mpi-openmpi');
  }, 120_000);

  /** An allocation of its own, and a share directory of its own for its steps. */
  async function allocation(name: string): Promise<{ job: string; shareDir: string; end: () => Promise<void> }> {
    const r = await runAsUser('salloc', ['--no-shell', '-n', '1', '--time=5', `--job-name=sif-linger-${name}-${process.pid}`], {
      env: { SLURM_CONF: slurm.slurmConf },
      timeoutMs: 120_000,
    });
    const job = /Granted job allocation (\d+)/.exec(r.stderr)?.[1];
    if (!job) throw new Error(`salloc gave no job: ${r.stderr}`);
    const xdg = userTempDir('sif-linger-xdg-');
    return {
      job,
      shareDir: join(xdg, 'sif'),
      end: async () => {
        await runAsUser('scancel', [job], { env: { SLURM_CONF: slurm.slurmConf }, timeoutMs: 30_000 });
      },
    };
  }

  type Alloc = Awaited<ReturnType<typeof allocation>>;
  const stepEnv = (a: Alloc) => ({ SLURM_CONF: slurm.slurmConf, XDG_RUNTIME_DIR: join(a.shareDir, '..') });

  /** Runs one step of one rank in the allocation; returns its container's mount namespace. */
  async function step(a: Alloc, sifArgs: string[], img = image, then = 'true'): Promise<string> {
    return (await stepOut(a, sifArgs, img, then)).mnt;
  }

  async function stepOut(a: Alloc, sifArgs: string[], img: string, then: string): Promise<{ mnt: string; stdout: string }> {
    const r = await runAsUser('srun', ['--jobid', a.job, '-n', '1', SIF_BIN, 'exec', ...sifArgs, img, 'sh', '-c', `${NS_LINE}; ${then}`], {
      env: stepEnv(a),
      timeoutMs: 120_000,
    });
    const v = views(r.stdout);
    if (r.exitCode !== 0 || v.length !== 1) throw new Error(`step failed (exit ${r.exitCode}): ${r.stderr}`);
    return { mnt: v[0]!.mnt, stdout: r.stdout };
  }

  /** A file of the image that nothing but these steps reads, and how many of its pages the container's page cache holds. */
  const COLD_FILE = '/usr/share/common-licenses/GPL-3';
  // No quotes: it goes inside other sh -c '...' (fincore pads the number).
  const CACHED = `echo cached=$(fincore -n -o PAGES ${COLD_FILE})`;
  const cached = (stdout: string) => Number(/^cached= ?(\d+)$/m.exec(stdout)?.[1] ?? NaN);

  const lockFiles = (a: Alloc) => (existsSync(a.shareDir) ? readdirSync(a.shareDir).filter((f) => /\.(lock|live|users)$/.test(f)) : []);

  it('serves consecutive steps from one FUSE server, and a new one for other images, mounts or options', async () => {
    const a = await allocation('reuse');
    try {
      const linger = ['--share-linger', '4'];
      const first = await stepOut(a, linger, image, `${CACHED}; cat ${COLD_FILE} >/dev/null`);
      // The step is over: its container waits, with its server.
      const servers = fuseServers(new Set([first.mnt]));
      // The next step finds the file that the first read in the page cache (the mount's).
      const secondOut = await stepOut(a, linger, image, CACHED);
      const second = secondOut.mnt;
      const serversThen = fuseServers(new Set([second]));
      const third = await step(a, linger);

      const other = join(testImagesDir(), 'python.sqfs');
      const apart = {
        image: await step(a, linger, other),
        bind: await step(a, [...linger, '-B', `${userTempDir('sif-linger-bind-')}:/mnt`]),
        window: await step(a, ['--share-linger', '5']),
        noLinger: await step(a, ['--share-linger', '0']),
        noShare: (await stepOut(a, [...linger, '--no-share'], image, CACHED)),
      };
      const cold = { first: cached(first.stdout), noShare: cached(apart.noShare.stdout) };
      const apartNs = { ...apart, noShare: apart.noShare.mnt };
      process.stderr.write(`share-linger: steps 1-3 in ${first.mnt} ${second} ${third}, FUSE servers ${servers} then ${serversThen}, ` +
        `pages of ${COLD_FILE} cached at the start: step 1 ${cold.first}, step 2 ${cached(secondOut.stdout)}, --no-share ${cold.noShare}; apart: ${JSON.stringify(apartNs)}\n`);
      expect(servers).toHaveLength(1);
      expect({ second, third, serversThen }).toEqual({ second: first.mnt, third: first.mnt, serversThen: servers });
      expect(cached(secondOut.stdout)).toBeGreaterThan(0);
      expect(cold).toEqual({ first: 0, noShare: 0 });
      for (const [what, ns] of Object.entries(apartNs)) expect({ what, same: ns === first.mnt }).toEqual({ what, same: false });

      // After the window: no process in any of these containers, no lock file left.
      const all = new Set([first.mnt, ...Object.values(apartNs)]);
      await until('the containers to end', () => processesIn(all).length === 0 && lockFiles(a).length === 0, 30_000).catch(() => {});
      expect({ left: processesIn(all), files: lockFiles(a) }).toEqual({ left: [], files: [] });
    } finally {
      await a.end();
    }
  }, 600_000);

  it("lets a job's sif exec that follow one another in one task share, as a batch script's do", async () => {
    const a = await allocation('batch');
    try {
      // The second finds the file the first read in the page cache: the same mount (a
      // namespace's number alone could be a new one's, reused).
      const exec = (then: string) => `${SIF_BIN} exec --share-linger 2 ${image} sh -c '${NS_LINE}; ${then}'`;
      const r = await runAsUser('srun', ['--jobid', a.job, '-n', '1', 'sh', '-c', `${exec(`cat ${COLD_FILE} >/dev/null`)} && ${exec(CACHED)}`], {
        env: stepEnv(a),
        timeoutMs: 120_000,
      });
      const v = views(r.stdout);
      expect({ exitCode: r.exitCode, execs: v.length }).toEqual({ exitCode: 0, execs: 2 });
      expect(v[0]!.mnt).toBe(v[1]!.mnt);
      expect(cached(r.stdout)).toBeGreaterThan(0);
    } finally {
      await a.end();
    }
  }, 300_000);

  it('leaves nothing behind after the window when the job is cancelled, mid-step or lingering', async () => {
    const a = await allocation('scancel');
    const linger = ['--share-linger', '3'];
    let cancelled = false;
    try {
      const first = await step(a, linger);
      // A second step joins the waiting container and is still running when the job goes.
      const srun = spawnAsUser('srun', ['--jobid', a.job, '-n', '1', SIF_BIN, 'exec', ...linger, image, 'sh', '-c', `${NS_LINE}; sleep 120`], {
        env: stepEnv(a),
        timeoutMs: 300_000,
      });
      let out = '';
      srun.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      await until('the second step', () => views(out).length === 1, 120_000);
      const ns = new Set([first, views(out)[0]!.mnt]);
      const before = processesIn(ns).length;
      await a.end();
      cancelled = true;
      await srun;
      // KillWait (5 s), then the window (3 s).
      await until('the container to go', () => processesIn(ns).length === 0 && lockFiles(a).length === 0, 30_000).catch(() => {});
      process.stderr.write(`share-linger: scancel: ${ns.size} container(s), ${before} processes before, ${processesIn(ns).length} after\n`);
      expect(ns.size).toBe(1);
      expect(before).toBeGreaterThan(0);
      expect({ left: processesIn(ns), files: lockFiles(a), held: heldLockFiles(a.shareDir) }).toEqual({ left: [], files: [], held: [] });
    } finally {
      // A failure before the scancel must not leave the allocation to its time limit.
      if (!cancelled) await a.end();
    }
  }, 600_000);

  it('ends a waiting container at once when its image changes, or on SIGTERM', async () => {
    const a = await allocation('ends');
    try {
      const dir = userTempDir('sif-linger-img-');
      chmodSync(dir, 0o755);
      const img = join(dir, 'app.sqfs');
      copyFileSync(image, img);
      chmodSync(img, 0o644);
      // A window far longer than the waits below: only the change or the signal can end it.
      const linger = ['--share-linger', '600'];
      const gone = (ns: string) => until(`${ns} to end`, () => processesIn(new Set([ns])).length === 0 && lockFiles(a).length === 0, 20_000).then(() => true, () => false);

      const changed = await step(a, linger, img);
      expect(fuseServers(new Set([changed]))).toHaveLength(1);
      const now = new Date();
      utimesSync(img, now, now);
      const endedByChange = await gone(changed);

      const signalled = await step(a, linger, img);
      const [server] = fuseServers(new Set([signalled]));
      expect(server).toBeDefined();
      const kill = await runAsUser('kill', ['-TERM', server!], { timeoutMs: 10_000 });
      const endedBySignal = await gone(signalled);
      expect({ endedByChange, kill: kill.exitCode, endedBySignal }).toEqual({ endedByChange: true, kill: 0, endedBySignal: true });
    } finally {
      await a.end();
    }
  }, 600_000);
});
