import { createHash } from 'node:crypto';
import { DEFAULT_LINGER_MS, inStepCgroup, jobStepId, parseShareLinger, planShare, shareDir, type ImageIdentity, type ShareProbe } from '../../../src/exec/node-share.js';
import type { LaunchPlan } from '../../../src/exec/mount-ops.js';

const srun = { SLURM_JOB_ID: '4711', SLURM_STEP_ID: '0', SLURM_STEP_NUM_TASKS: '4', SLURM_PROCID: '1', PMIX_NAMESPACE: 'slurm.pmix.4711.0' };
const mpirun = { OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_LOCAL_SIZE: '2', PMIX_NAMESPACE: 'prterun-n1-1234@1' };
const hydra = { PMI_RANK: '3', PMI_SIZE: '4', PMI_FD: '6', MPI_LOCALNRANKS: '2', MPI_LOCALRANKID: '1' };

describe('jobStepId', () => {
  it('names a SLURM step by job and step, with its PMIx namespace', () => {
    expect(jobStepId(srun, 9)).toBe('slurm=4711.0 pmix=slurm.pmix.4711.0');
    expect(jobStepId({ ...srun, SLURM_STEP_ID: '1' }, 9)).not.toBe(jobStepId(srun, 9));
  });

  it("names Open MPI's mpirun job by its PMIx namespace, also inside a batch job", () => {
    expect(jobStepId(mpirun, 9)).toBe('pmix=prterun-n1-1234@1');
    // Two mpiruns in one batch step are two jobs.
    const batch = { SLURM_JOB_ID: '4711', SLURM_STEP_ID: 'batch' };
    expect(jobStepId({ ...batch, ...mpirun }, 9)).not.toBe(jobStepId({ ...batch, ...mpirun, PMIX_NAMESPACE: 'prterun-n1-999@1' }, 9));
  });

  it("names MPICH hydra's ranks on a node by their proxy, the parent", () => {
    expect(jobStepId(hydra, 9)).toBe('hydra=/9');
    expect(jobStepId(hydra, 10)).not.toBe(jobStepId(hydra, 9));
    expect(jobStepId({ ...hydra, PMI_PORT: 'n1:5000' }, 9)).toBe('hydra=n1:5000/9');
  });

  it('has none without a launcher, or where this node runs the only rank', () => {
    expect(jobStepId({}, 9)).toBeUndefined();
    expect(jobStepId({ SLURM_JOB_ID: '4711' }, 9)).toBeUndefined(); // a batch script, no step
    expect(jobStepId({ PMIX_NAMESPACE: 'x' }, 9)).toBeUndefined();
    expect(jobStepId({ ...srun, SLURM_STEP_NUM_TASKS: '1' }, 9)).toBeUndefined();
    expect(jobStepId({ ...mpirun, OMPI_COMM_WORLD_LOCAL_SIZE: '1' }, 9)).toBeUndefined();
    expect(jobStepId({ ...hydra, MPI_LOCALNRANKS: '1' }, 9)).toBeUndefined();
  });
});

describe('shareDir', () => {
  it('is $XDG_RUNTIME_DIR/sif when that is a directory of the user, else /tmp/sif-<uid>', () => {
    expect(shareDir({ XDG_RUNTIME_DIR: '/run/user/42/' }, 42, () => true)).toBe('/run/user/42/sif');
    expect(shareDir({ XDG_RUNTIME_DIR: '/run/user/42' }, 42, () => false)).toBe('/tmp/sif-42');
    expect(shareDir({ XDG_RUNTIME_DIR: 'relative' }, 42, () => true)).toBe('/tmp/sif-42');
    expect(shareDir({}, 42, () => true)).toBe('/tmp/sif-42');
  });
});

describe('planShare', () => {
  const identity: ImageIdentity = { dev: 2049n, ino: 123456789012n, mtimeNs: 1700000000123456789n, size: 1000n };
  const probe = (over: Partial<ShareProbe> = {}): ShareProbe => ({
    ppid: 9,
    hostname: () => 'n1',
    imageIdentity: () => identity,
    usableRuntimeDir: () => false,
    sha256: (t) => createHash('sha256').update(t).digest('hex'),
    ownCgroups: () => '0::/user.slice/user-1000.slice/session-3.scope\n',
    ...over,
  });
  const plan: LaunchPlan = {
    image: '/scratch/app.sif',
    offset: 32768,
    newPid: false,
    writable: false,
    ops: [{ op: 'bind', src: '/proc', dst: '/proc' }, { op: 'bind', src: '/scratch/run', dst: '/scratch/run' }],
    cwd: '/scratch/run',
    argv: ['./solver'],
    env: { SLURM_PROCID: '0' },
  };
  // Per step (no lingering) unless a test says otherwise.
  const key = (p: LaunchPlan = plan, env: Record<string, string> = srun, pr = probe(), linger = 0) => planShare(p, false, linger, 1000, env, pr)?.key;

  it('gives every rank of the step the same record, whatever its command, environment or cwd', () => {
    const share = planShare(plan, false, 0, 1000, srun, probe());
    expect(share).toEqual({ dir: '/tmp/sif-1000', key: expect.stringMatching(/^[0-9a-f]{32}$/), dev: '2049', ino: '123456789012', lingerMs: 0 });
    expect(key({ ...plan, argv: ['./other'], env: { SLURM_PROCID: '1' }, cwd: '/' }, { ...srun, SLURM_PROCID: '3' })).toBe(share?.key);
  });

  it("with a window under SLURM, gives every step of the job the same record, also a step's only rank and a batch script", () => {
    const share = planShare(plan, false, 5000, 1000, srun, probe());
    expect(share).toEqual({ dir: '/tmp/sif-1000', key: expect.stringMatching(/^[0-9a-f]{32}$/), dev: '2049', ino: '123456789012', lingerMs: 5000 });
    const lingering = (env: Record<string, string>, p = plan) => key(p, env, probe(), 5000);
    expect(lingering({ ...srun, SLURM_STEP_ID: '7', PMIX_NAMESPACE: 'slurm.pmix.4711.7', SLURM_STEP_NUM_TASKS: '1' })).toBe(share?.key);
    expect(lingering({ SLURM_JOB_ID: '4711' })).toBe(share?.key);
    expect(lingering({ ...srun, ...mpirun })).toBe(share?.key);
    // PMIx's directory, when no mount of the step's own shows it (a bind above it does)
    expect(lingering({ ...srun, PMIX_SERVER_TMPDIR: '/var/spool/slurmd/pmix.4711.0' })).toBe(share?.key);
    // Not another job's, nor a step's of the same job that does not linger, nor another window's.
    expect(lingering({ ...srun, SLURM_JOB_ID: '4712' })).not.toBe(share?.key);
    expect(key()).not.toBe(share?.key);
    expect(key(plan, srun, probe(), 6000)).not.toBe(share?.key);
  });

  it('gives a container served with --store-ahead a key of its own', () => {
    expect(key({ ...plan, storeAhead: true })).not.toBe(key());
    expect(key({ ...plan, storeAhead: false })).toBe(key());
  });

  it('gives a container served with --no-read-ahead a key of its own', () => {
    expect(key({ ...plan, noReadAhead: true })).not.toBe(key());
    expect(key({ ...plan, noReadAhead: false })).toBe(key());
  });

  it.each([
    ['--writable-tmpfs', { ...plan, writable: true }, probe()],
    ['a tmpfs of its own (--contain)', { ...plan, ops: [...plan.ops, { op: 'tmpfs' as const, dst: '/tmp', mode: 0o1777 }] }, probe()],
    ["the PMIx server's directory of srun --mpi=pmix", { ...plan, ops: [...plan.ops, { op: 'bind' as const, src: '/var/spool/slurmd/pmix.4711.0', dst: '/var/spool/slurmd/pmix.4711.0', optional: true }] }, probe()],
    ["the step's own cgroup (proctrack/cgroup)", plan, probe({ ownCgroups: () => '0::/system.slice/slurmstepd.scope/job_4711/step_0/user/task_1\n' })],
  ])('keeps a container with %s to its step, with no window', (_what, p, pr) => {
    const env = { ...srun, PMIX_SERVER_TMPDIR: '/var/spool/slurmd/pmix.4711.0' };
    expect(planShare(p, false, 5000, 1000, env, pr)).toMatchObject({ lingerMs: 0 });
    expect(key(p, env, pr, 5000)).toBe(key(p, env, pr, 0));
    // and a single-rank step then shares nothing, as before
    expect(planShare(p, false, 5000, 1000, { ...env, SLURM_STEP_NUM_TASKS: '1' }, pr)).toBeUndefined();
  });

  it('lingers only under SLURM: mpirun and hydra name no job', () => {
    expect(planShare(plan, false, 5000, 1000, mpirun, probe())).toMatchObject({ lingerMs: 0 });
    expect(planShare(plan, false, 5000, 1000, hydra, probe())).toMatchObject({ lingerMs: 0 });
  });

  it.each([
    ['another step', plan, { ...srun, SLURM_STEP_ID: '1' }, probe()],
    ['another node', plan, srun, probe({ hostname: () => 'n2' })],
    ['another image path', { ...plan, image: '/scratch/other.sif' }, srun, probe()],
    ['another partition offset', { ...plan, offset: 4096 }, srun, probe()],
    ['the image rewritten in place', plan, srun, probe({ imageIdentity: () => ({ ...identity, mtimeNs: identity.mtimeNs + 1n }) })],
    ['the image replaced', plan, srun, probe({ imageIdentity: () => ({ ...identity, ino: identity.ino + 1n }) })],
    ['another bind', { ...plan, ops: [...plan.ops, { op: 'bind' as const, src: '/data', dst: '/data', readonly: true }] }, srun, probe()],
    ['--writable-tmpfs', { ...plan, writable: true }, srun, probe()],
  ])('gives %s another key', (_what, p, env, pr) => {
    expect(key(p, env, pr)).toBeDefined();
    expect(key(p, env, pr)).not.toBe(key());
  });

  it('shares nothing with --no-share, --pid or without a launcher; then probes nothing', () => {
    const untouchable = probe({
      hostname: () => { throw new Error('probed'); },
      imageIdentity: () => { throw new Error('probed'); },
      sha256: () => { throw new Error('probed'); },
      ownCgroups: () => { throw new Error('probed'); },
    });
    expect(planShare(plan, true, DEFAULT_LINGER_MS, 1000, srun, untouchable)).toBeUndefined();
    expect(planShare({ ...plan, newPid: true }, false, DEFAULT_LINGER_MS, 1000, srun, untouchable)).toBeUndefined();
    expect(planShare(plan, false, DEFAULT_LINGER_MS, 1000, { PATH: '/usr/bin' }, untouchable)).toBeUndefined();
  });

  it('keeps the lock files in $XDG_RUNTIME_DIR/sif when it is usable', () => {
    expect(planShare(plan, false, 0, 1000, { ...srun, XDG_RUNTIME_DIR: '/run/user/1000' }, probe({ usableRuntimeDir: () => true }))?.dir).toBe('/run/user/1000/sif');
  });
});

describe('inStepCgroup', () => {
  it("finds the step's cgroup of SLURM's cgroup/v2 and v1 layouts, only for this job", () => {
    expect(inStepCgroup('0::/system.slice/slurmstepd.scope/job_42/step_batch/user/task_0\n', '42')).toBe(true);
    expect(inStepCgroup('12:freezer:/slurm/uid_1000/job_42/step_0/task_0\n4:cpuset:/\n', '42')).toBe(true);
    expect(inStepCgroup('0::/system.slice/slurmstepd.scope/job_42/step_0\n', '4')).toBe(false);
    expect(inStepCgroup('0::/user.slice/user-1000.slice/session-1.scope\n', '42')).toBe(false);
    expect(inStepCgroup('', '42')).toBe(false);
  });
});

describe('parseShareLinger', () => {
  it('reads seconds, 10 by default, 0 for none', () => {
    expect(parseShareLinger(undefined)).toBe(10_000);
    expect([parseShareLinger('0'), parseShareLinger('2.5'), parseShareLinger(' 3600 ')]).toEqual([0, 2500, 3_600_000]);
  });

  it.each(['-1', '1e3', 'ten', '', '3601', '.5', '5s'])("refuses '%s', naming the option and the range", (v) => {
    expect(() => parseShareLinger(v)).toThrow(new RegExp(`--share-linger \\(or SIF_SHARE_LINGER\\) expects seconds from 0 to 3600, got '${v.replace('.', '\\.')}'`));
  });
});
