import { buildEnvironment } from '../../../src/exec/environment.js';
import { type LaunchRequest, planLaunch } from '../../../src/exec/launch-plan.js';
import type { MountOp } from '../../../src/exec/mount-ops.js';
import { host } from './fixtures.js';

const envRequest = { hostEnv: host.env, cleanenv: false, envFiles: [], envFlags: {}, imageEnv: [], home: host.home, imagePath: '/img/a.sif', bindDsts: [] };
const env = buildEnvironment(envRequest);

function request(over: Partial<LaunchRequest> = {}): LaunchRequest {
  return { image: { path: '/img/a.sif', offset: 32768 }, argv: ['python3'], binds: [], contain: false, noHome: false, writableTmpfs: false, pid: false, env, ...over };
}

const at = (ops: MountOp[], dst: string) => ops.filter((o) => o.dst === dst);

describe('planLaunch', () => {
  it("makes Apptainer's default mounts, identity files and binds the cwd", () => {
    const plan = planLaunch(request(), host);
    expect(plan.ops.map((o) => `${o.op} ${o.dst}`)).toEqual([
      'bind /proc', 'bind /sys', 'bind /dev', 'bind /home/alice', 'bind /tmp', 'bind /var/tmp',
      'bind /etc/hosts', 'bind /etc/localtime', 'bind /etc/resolv.conf', 'merge /etc/passwd', 'merge /etc/group',
      'bind /scratch/alice/run1',
    ]);
    expect(plan.cwd).toBe('/scratch/alice/run1');
    expect(at(plan.ops, '/etc/passwd')[0]).toMatchObject({ data: 'alice:x:4242:4300:Alice A:/home/alice:/bin/bash\n' });
    expect(at(plan.ops, '/etc/group')[0]).toMatchObject({ data: 'physics:x:4300:alice\n' });
    expect(at(plan.ops, '/etc/hosts')[0]).toMatchObject({ readonly: true, optional: true });
    expect(plan).toMatchObject({ image: '/img/a.sif', offset: 32768, newPid: false, writable: false, argv: ['python3'] });
    expect(plan.shim?.test).toBe('/.singularity.d/env');
  });

  it('does not bind a cwd already under the home directory or a system directory', () => {
    expect(at(planLaunch(request(), { ...host, cwd: '/home/alice/proj' }).ops, '/home/alice/proj')).toEqual([]);
    expect(planLaunch(request(), { ...host, cwd: '/home/alice/proj' }).cwd).toBe('/home/alice/proj');
    const sys = planLaunch(request(), { ...host, cwd: '/usr' });
    expect(at(sys.ops, '/usr')).toEqual([]);
    expect(sys.cwd).toBe('/home/alice');
  });

  it('places --nv operations before the user binds, which win at the same destination', () => {
    const extraOps: MountOp[] = [
      { op: 'tmpfs', dst: '/.singularity.d/libs', mode: 0o755 },
      { op: 'bind', src: '/usr/bin/nvidia-smi', dst: '/usr/bin/nvidia-smi', readonly: true },
    ];
    const plan = planLaunch(request({ extraOps, binds: [{ src: '/opt/smi', dst: '/usr/bin/nvidia-smi', readonly: false }] }), host);
    expect(plan.ops.slice(-3).map((o) => `${o.op} ${o.dst}`)).toEqual(['bind /scratch/alice/run1', 'tmpfs /.singularity.d/libs', 'bind /usr/bin/nvidia-smi']);
    expect(at(plan.ops, '/usr/bin/nvidia-smi')).toEqual([{ op: 'bind', src: '/opt/smi', dst: '/usr/bin/nvidia-smi', readonly: false }]);
  });

  it('--contain: minimal /dev, private tmp and home, no cwd', () => {
    const plan = planLaunch(request({ contain: true }), host);
    expect(at(plan.ops, '/dev')[0]).toMatchObject({ op: 'tmpfs' });
    expect(at(plan.ops, '/dev/null')[0]).toMatchObject({ op: 'bind', src: '/dev/null' });
    expect(at(plan.ops, '/tmp')[0]).toMatchObject({ op: 'tmpfs', mode: 0o1777 });
    expect(at(plan.ops, '/home/alice')[0]).toMatchObject({ op: 'tmpfs' });
    expect(at(plan.ops, '/scratch/alice/run1')).toEqual([]);
    expect(plan.cwd).toBe('/home/alice');
  });

  it('--workdir backs /tmp, /var/tmp and (with --contain) home', () => {
    const plan = planLaunch(request({ contain: true, workdir: '/local/w' }), host);
    expect(at(plan.ops, '/tmp')[0]).toMatchObject({ op: 'bind', src: '/local/w/tmp' });
    expect(at(plan.ops, '/var/tmp')[0]).toMatchObject({ op: 'bind', src: '/local/w/var_tmp' });
    expect(at(plan.ops, '/home/alice')[0]).toMatchObject({ op: 'bind', src: '/local/w/home' });
  });

  it('--home and --no-home', () => {
    const custom = planLaunch(request({ home: { src: '/data/h', dst: '/home/me' } }), host);
    expect(at(custom.ops, '/home/me')[0]).toMatchObject({ op: 'bind', src: '/data/h' });
    expect(at(custom.ops, '/home/alice')).toEqual([]);
  });

  it('--no-home mounts or makes nothing at the home directory; the cwd is still bound', () => {
    const none = planLaunch(request({ noHome: true }), host);
    expect(at(none.ops, '/home/alice')).toEqual([]);
    expect(none.cwd).toBe('/scratch/alice/run1');
    const fromHome = planLaunch(request({ noHome: true }), { ...host, cwd: '/home/alice/proj' });
    expect(at(fromHome.ops, '/home/alice/proj')).toEqual([{ op: 'bind', src: '/home/alice/proj', dst: '/home/alice/proj' }]);
    expect(at(fromHome.ops, '/home/alice')).toEqual([]);
    // A system directory is not bound: the image's own is the working directory, as with Apptainer.
    const sys = planLaunch(request({ noHome: true }), { ...host, cwd: '/usr' });
    expect(sys.cwd).toBe('/usr');
    expect(planLaunch(request({ noHome: true, home: { src: '/data/h', dst: '/home/me' } }), host).ops.filter((o) => o.dst.startsWith('/home/'))).toEqual([]);
  });

  it('runs the env script wherever a value needs the shell, else only in Apptainer-built images', () => {
    expect(planLaunch(request(), host).shim?.test).toBe('/.singularity.d/env');
    const evaluated = buildEnvironment({ ...envRequest, envFlags: { WHO: '$(id -u)' } });
    expect(planLaunch(request({ env: evaluated }), host).shim?.test).toBe('/');
    const prepend = buildEnvironment({ ...envRequest, hostEnv: { SIFENV_PREPEND_PATH: '$HOME/bin' } });
    expect(planLaunch(request({ env: prepend }), host).shim?.test).toBe('/');
  });

  it("user binds come last and replace a default mount at the same destination", () => {
    const plan = planLaunch(request({ binds: [{ src: '/lscratch', dst: '/tmp', readonly: false }, { src: '/ref', dst: '/ref', readonly: true }] }), host);
    expect(at(plan.ops, '/tmp')).toEqual([{ op: 'bind', src: '/lscratch', dst: '/tmp', readonly: false }]);
    expect(plan.ops.at(-1)).toEqual({ op: 'bind', src: '/ref', dst: '/ref', readonly: true });
  });

  it('--pid gets a new proc; --writable-tmpfs and --pwd pass through', () => {
    const plan = planLaunch(request({ pid: true, writableTmpfs: true, pwd: '/opt' }), host);
    expect(plan.ops[0]).toEqual({ op: 'proc', dst: '/proc' });
    expect(plan).toMatchObject({ newPid: true, writable: true, cwd: '/opt' });
  });

  it('--store-ahead passes through; without it the plan has no such field', () => {
    expect(planLaunch(request({ storeAhead: true }), host).storeAhead).toBe(true);
    expect(planLaunch(request({}), host)).not.toHaveProperty('storeAhead');
  });

  it('--no-read-ahead passes through; without it the plan has no such field', () => {
    expect(planLaunch(request({ noReadAhead: true }), host).noReadAhead).toBe(true);
    expect(planLaunch(request({}), host)).not.toHaveProperty('noReadAhead');
  });
});
