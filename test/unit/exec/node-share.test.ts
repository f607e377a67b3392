import { createHash } from 'node:crypto';
import { jobStepId, planShare, shareDir, type ImageIdentity, type ShareProbe } from '../../../src/exec/node-share.js';
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
  const key = (p: LaunchPlan = plan, env: Record<string, string> = srun, pr = probe()) => planShare(p, false, 1000, env, pr)?.key;

  it('gives every rank of the step the same record, whatever its command, environment or cwd', () => {
    const share = planShare(plan, false, 1000, srun, probe());
    expect(share).toEqual({ dir: '/tmp/sif-1000', key: expect.stringMatching(/^[0-9a-f]{32}$/), dev: '2049', ino: '123456789012' });
    expect(key({ ...plan, argv: ['./other'], env: { SLURM_PROCID: '1' }, cwd: '/' }, { ...srun, SLURM_PROCID: '3' })).toBe(share?.key);
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
    });
    expect(planShare(plan, true, 1000, srun, untouchable)).toBeUndefined();
    expect(planShare({ ...plan, newPid: true }, false, 1000, srun, untouchable)).toBeUndefined();
    expect(planShare(plan, false, 1000, { PATH: '/usr/bin' }, untouchable)).toBeUndefined();
  });

  it('keeps the lock files in $XDG_RUNTIME_DIR/sif when it is usable', () => {
    expect(planShare(plan, false, 1000, { ...srun, XDG_RUNTIME_DIR: '/run/user/1000' }, probe({ usableRuntimeDir: () => true }))?.dir).toBe('/run/user/1000/sif');
  });
});
