import { planLaunch, type LaunchRequest } from '../../../src/exec/launch-plan.js';
import { buildEnvironment } from '../../../src/exec/environment.js';
import { pmixServerDirs } from '../../../src/exec/pmix-server-dirs.js';
import { host } from './fixtures.js';

// What slurmstepd's PMIx server (PMIx 4.2, Slurm 22.05) puts in a rank's environment.
const spool = '/var/spool/slurmd/pmix.77.0/';
const srunEnv = {
  PMIX_SERVER_TMPDIR: spool,
  PMIX_DSTORE_ESH_BASE_PATH: `${spool}/pmix_dstor_ds12_4711`,
  PMIX_DSTORE_21_BASE_PATH: `${spool}/pmix_dstor_ds21_4711`,
  PMIX_GDS_MODULE: 'ds21,ds12,hash',
};

describe('pmixServerDirs', () => {
  it('names the server tmpdir once, normalized, when the data stores are inside it', () => {
    expect(pmixServerDirs(srunEnv)).toEqual(['/var/spool/slurmd/pmix.77.0']);
  });

  it('adds a data store that lives elsewhere', () => {
    expect(pmixServerDirs({ ...srunEnv, PMIX_DSTORE_21_BASE_PATH: '/dev/shm/ds21' })).toEqual(['/var/spool/slurmd/pmix.77.0', '/dev/shm/ds21']);
  });

  it('ignores what is not an absolute directory below /, and plain environments', () => {
    expect(pmixServerDirs({ PMIX_SERVER_TMPDIR: 'rel/dir', PMIX_DSTORE_ESH_BASE_PATH: '/', PMIX_DSTORE_21_BASE_PATH: '' })).toEqual([]);
    expect(pmixServerDirs(host.env)).toEqual([]);
  });
});

describe('planLaunch under srun --mpi=pmix', () => {
  const env = buildEnvironment({ hostEnv: host.env, cleanenv: false, envFiles: [], envFlags: {}, imageEnv: [], home: host.home, imagePath: '/img/a.sif', bindDsts: [] });
  const request = (over: Partial<LaunchRequest> = {}): LaunchRequest => ({
    image: { path: '/img/a.sif', offset: 0 }, argv: ['hello'], binds: [], contain: false, noHome: false, writableTmpfs: false, pid: false, env, ...over,
  });
  const pmixHost = { ...host, env: { ...host.env, ...srunEnv } };

  it('binds the PMIx server directory read-write at the same path, after /tmp', () => {
    const ops = planLaunch(request(), pmixHost).ops;
    const bind = ops.find((o) => o.dst === '/var/spool/slurmd/pmix.77.0');
    expect(bind).toEqual({ op: 'bind', src: '/var/spool/slurmd/pmix.77.0', dst: '/var/spool/slurmd/pmix.77.0', optional: true });
    expect(ops.indexOf(bind!)).toBeGreaterThan(ops.findIndex((o) => o.dst === '/tmp'));
  });

  it('needs no bind where the host /tmp already shows it, but does under --contain', () => {
    const inTmp = { ...host, env: { ...host.env, PMIX_SERVER_TMPDIR: '/tmp/pmix.77.0' } };
    expect(planLaunch(request(), inTmp).ops.filter((o) => o.dst === '/tmp/pmix.77.0')).toEqual([]);
    expect(planLaunch(request({ contain: true }), inTmp).ops.filter((o) => o.dst === '/tmp/pmix.77.0')).toHaveLength(1);
  });

  it("leaves a user's bind of the same directory alone", () => {
    const binds = [{ src: '/elsewhere', dst: '/var/spool/slurmd/pmix.77.0', readonly: true }];
    const ops = planLaunch(request({ binds }), pmixHost).ops.filter((o) => o.dst === '/var/spool/slurmd/pmix.77.0');
    expect(ops).toEqual([{ op: 'bind', src: '/elsewhere', dst: '/var/spool/slurmd/pmix.77.0', readonly: true }]);
  });

  it('adds nothing outside PMIx', () => {
    expect(planLaunch(request(), host).ops.map((o) => o.dst)).not.toContain('/var/spool/slurmd/pmix.77.0');
  });
});
