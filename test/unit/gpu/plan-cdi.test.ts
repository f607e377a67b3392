import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SifError } from '../../../src/errors.js';
import type { CdiHostFacts } from '../../../src/host/cdi-host-facts.js';
import { cdiMountOps } from '../../../src/gpu/cdi-mount-ops.js';
import { loadCdiRegistry } from '../../../src/gpu/cdi-registry.js';
import { cdiRegistryText } from '../../../src/gpu/cdi-launch.js';
import { planCdi, type CdiRequest } from '../../../src/gpu/plan-cdi.js';

const YAML_SPEC = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/cdi/nvidia-cdi.yaml'), 'utf8');
const LIB = '/usr/lib/x86_64-linux-gnu';
const V = '550.54.14';

/** A host described by tables: spec files by path, what is at each host path, sonames. */
function fakeCdiHost(specs: Record<string, string>, kinds: Record<string, 'c' | 'b' | 'file' | 'dir'> = HOST, sonames: Record<string, string> = SONAMES): CdiHostFacts {
  return {
    specDirs: () => ['/etc/cdi', '/var/run/cdi'],
    listDir: (dir) => {
      const names = Object.keys(specs).filter((p) => p.startsWith(`${dir}/`)).map((p) => p.slice(dir.length + 1));
      return names.length ? names : undefined;
    },
    readSpec: (p) => specs[p],
    fileKind: (p) => kinds[p],
    soname: (p) => sonames[p],
  };
}

const HOST: Record<string, 'c' | 'b' | 'file' | 'dir'> = {
  '/dev/nvidia0': 'c', '/dev/nvidia1': 'c', '/dev/nvidiactl': 'c', '/dev/nvidia-uvm': 'c', '/dev/nvidia-uvm-tools': 'c', '/dev/nvidia-modeset': 'c',
  [`${LIB}/libcuda.so.${V}`]: 'file', [`${LIB}/libnvidia-ml.so.${V}`]: 'file', [`${LIB}/libnvidia-allocator.so.${V}`]: 'file', '/usr/bin/nvidia-smi': 'file',
};
const SONAMES: Record<string, string> = {
  [`${LIB}/libcuda.so.${V}`]: 'libcuda.so.1', [`${LIB}/libnvidia-ml.so.${V}`]: 'libnvidia-ml.so.1', [`${LIB}/libnvidia-allocator.so.${V}`]: 'libnvidia-allocator.so.1',
};

const plan = (req: Partial<CdiRequest>, host = fakeCdiHost({ '/etc/cdi/nvidia.yaml': YAML_SPEC })) =>
  planCdi({ devices: ['nvidia.com/gpu=0'], contain: true, ...req }, loadCdiRegistry(host), host);

describe('planCdi (an nvidia-ctk spec)', () => {
  it("binds the device's node and the common control nodes, with --contain", () => {
    const p = plan({});
    const nodes = p.mounts.filter((m) => m.dst.startsWith('/dev/')).map((m) => m.dst);
    expect(nodes).toEqual(['/dev/nvidia-modeset', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidiactl', '/dev/nvidia0']);
    expect(p.mounts.find((m) => m.dst === '/dev/nvidia0')).toEqual({ src: '/dev/nvidia0', dst: '/dev/nvidia0', writable: false });
    expect(p.devices).toEqual(['nvidia.com/gpu=0']);
  });

  it('takes a device by UUID, and all', () => {
    expect(plan({ devices: ['nvidia.com/gpu=GPU-8f7e6d5c-4b3a-4921-8e7d-6c5b4a392817'] }).mounts.map((m) => m.dst)).toContain('/dev/nvidia1');
    const all = plan({ devices: ['nvidia.com/gpu=all', 'nvidia.com/gpu=0'] }).mounts.map((m) => m.dst);
    expect(all.filter((d) => /^\/dev\/nvidia\d$/.test(d))).toEqual(['/dev/nvidia0', '/dev/nvidia1']);
  });

  it("sets the spec's environment and mounts the libraries and programs read-only at their paths", () => {
    const p = plan({});
    expect(p.env).toEqual({ NVIDIA_VISIBLE_DEVICES: 'void', NVIDIA_CTK_LIBCUDA_DIR: LIB });
    expect(p.mounts).toEqual(expect.arrayContaining([
      { src: `${LIB}/libcuda.so.${V}`, dst: `${LIB}/libcuda.so.${V}`, writable: false },
      { src: '/usr/bin/nvidia-smi', dst: '/usr/bin/nvidia-smi', writable: false },
    ]));
  });

  it('does what update-ldcache and create-symlinks would: soname links in /.singularity.d/libs', () => {
    const p = plan({});
    expect(p.links).toEqual([
      { target: `${LIB}/libcuda.so.${V}`, dst: '/.singularity.d/libs/libcuda.so.1' },
      { target: `${LIB}/libnvidia-ml.so.${V}`, dst: '/.singularity.d/libs/libnvidia-ml.so.1' },
      { target: `${LIB}/libnvidia-allocator.so.${V}`, dst: '/.singularity.d/libs/libnvidia-allocator.so.1' },
      { target: 'libcuda.so.1', dst: '/.singularity.d/libs/libcuda.so' },
    ]);
    // A link outside the library folder: the file its target names, bound there.
    expect(p.mounts).toContainEqual({ src: `${LIB}/libnvidia-allocator.so.${V}`, dst: `${LIB}/gbm/nvidia-drm_gbm.so`, writable: false });
    expect(p.hooks).toEqual([
      expect.stringMatching(/^createContainer hook \/usr\/bin\/nvidia-cdi-hook create-symlinks .*: not run \(needs root\); its links are made by sif$/),
      expect.stringMatching(/enable-cuda-compat --host-driver-version=550\.54\.14: skipped: 'enable-cuda-compat' needs root/),
      expect.stringMatching(/update-ldcache --folder \/usr\/lib\/x86_64-linux-gnu: not run .*found through \/\.singularity\.d\/libs/),
    ]);
    expect(p.warnings).toEqual([
      '--device: /run/nvidia-persistenced/socket (/etc/cdi/nvidia.yaml (common edits)) does not exist on this host: not mounted at /run/nvidia-persistenced/socket',
      expect.stringMatching(/^--device: a CDI hook was skipped \(they need root in the container\): \/usr\/bin\/nvidia-cdi-hook enable-cuda-compat/),
    ]);
  });

  it('as starter operations: a tmpfs for the links first, the library path extended after the image\'s', () => {
    const parts = cdiMountOps(plan({}), { LD_LIBRARY_PATH: '/opt/app/lib' });
    expect(parts.ops[0]).toEqual({ op: 'tmpfs', dst: '/.singularity.d/libs', mode: 0o755 });
    expect(parts.ops[1]).toEqual({ op: 'symlink', target: `${LIB}/libcuda.so.${V}`, dst: '/.singularity.d/libs/libcuda.so.1' });
    expect(parts.ops).toContainEqual({ op: 'bind', src: '/dev/nvidia0', dst: '/dev/nvidia0', readonly: true });
    expect(parts.env.LD_LIBRARY_PATH).toBe('/opt/app/lib:/.singularity.d/libs');
    expect(cdiMountOps(plan({}), {}).env.LD_LIBRARY_PATH).toBe('/.singularity.d/libs');
  });

  it("without --contain, binds no node the host's /dev already shows, and says a moved one needs --contain", () => {
    expect(plan({ contain: false }).mounts.filter((m) => m.dst.startsWith('/dev/'))).toEqual([]);
    const moved = JSON.stringify({
      cdiVersion: '0.5.0', kind: 'example.com/gpu',
      devices: [{ name: 'a', containerEdits: { deviceNodes: [{ path: '/dev/nvidia0', hostPath: '/opt/root/dev/nvidia0' }, { path: '/dev/gpu9', hostPath: '/opt/root/dev/nvidia0' }] } }],
    });
    const host = fakeCdiHost({ '/etc/cdi/x.json': moved }, { ...HOST, '/opt/root/dev/nvidia0': 'c' });
    const p = plan({ devices: ['example.com/gpu=a'], contain: false }, host);
    expect(p.mounts).toEqual([{ src: '/opt/root/dev/nvidia0', dst: '/dev/nvidia0', writable: false }]);
    expect(p.warnings).toEqual(["--device: the device node /opt/root/dev/nvidia0 goes at /dev/gpu9, which the host's /dev (bound whole without --contain) lacks: skipped; use --contain"]);
  });

  it('skips a node missing on the host, and a mount that is not a bind, with warnings', () => {
    const spec = JSON.stringify({
      cdiVersion: '0.6.0', kind: 'example.com/dev',
      devices: [{ name: 'x', containerEdits: { deviceNodes: [{ path: '/dev/gone' }], mounts: [{ hostPath: '/tmp', containerPath: '/scratch', type: 'tmpfs' }] } }],
    });
    const p = plan({ devices: ['example.com/dev=x'] }, fakeCdiHost({ '/etc/cdi/d.json': spec }));
    expect(p.mounts).toEqual([]);
    expect(p.warnings).toEqual([
      '--device: the device node /dev/gone (/etc/cdi/d.json device example.com/dev=x) does not exist on this host: skipped',
      '--device: the tmpfs mount at /scratch (/etc/cdi/d.json device example.com/dev=x) is not a bind mount: skipped (only bind mounts are applied)',
    ]);
  });
});

describe('CDI spec directories', () => {
  const override = JSON.stringify({ cdiVersion: '0.5.0', kind: 'nvidia.com/gpu', devices: [{ name: '0', containerEdits: { deviceNodes: [{ path: '/dev/nvidia1' }] } }] });

  it('a device of /var/run/cdi replaces the same one of /etc/cdi; the others stay', () => {
    const host = fakeCdiHost({ '/etc/cdi/nvidia.yaml': YAML_SPEC, '/var/run/cdi/nvidia.json': override });
    const p = plan({}, host);
    expect(p.notes[0]).toBe('device nvidia.com/gpu=0: /var/run/cdi/nvidia.json (cdiVersion 0.5.0)');
    expect(p.mounts.map((m) => m.dst)).toEqual(['/dev/nvidia1']);
    expect(plan({ devices: ['nvidia.com/gpu=1'] }, host).notes[0]).toMatch(/^device nvidia.com\/gpu=1: \/etc\/cdi\/nvidia.yaml/);
    expect(cdiRegistryText(loadCdiRegistry(host))).toContain('not used (defined again elsewhere): 0');
  });

  it('the same device in two files of one directory: an error naming both', () => {
    const host = fakeCdiHost({ '/etc/cdi/a.json': override, '/etc/cdi/b.json': override });
    expect(() => plan({}, host)).toThrow('CDI device nvidia.com/gpu=0 is defined by both /etc/cdi/a.json and /etc/cdi/b.json, in the same directory');
  });

  it('an unknown device: an error listing the names there are', () => {
    const host = fakeCdiHost({ '/etc/cdi/nvidia.yaml': YAML_SPEC });
    let err: unknown;
    try {
      plan({ devices: ['nvidia.com/gpu=7'] }, host);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SifError);
    expect((err as SifError).message).toBe(
      'no CDI device nvidia.com/gpu=7: the specs in /etc/cdi and /var/run/cdi define nvidia.com/gpu=0, nvidia.com/gpu=1, nvidia.com/gpu=GPU-3a2c5f1e-7b4d-4c21-9e0f-5d6a8b9c0d1e, nvidia.com/gpu=GPU-8f7e6d5c-4b3a-4921-8e7d-6c5b4a392817, nvidia.com/gpu=all',
    );
  });

  it('no spec for the kind, a name that is not CDI, a file that is not a spec', () => {
    const host = fakeCdiHost({ '/etc/cdi/broken.yaml': 'cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices: []\n' });
    expect(() => plan({}, host)).toThrow(/^no CDI spec for nvidia.com\/gpu in \/etc\/cdi and \/var\/run\/cdi \(files not usable: \/etc\/cdi\/broken.yaml: it defines no device\)$/);
    expect(() => plan({ devices: ['gpu0'] }, host)).toThrow("--device 'gpu0' is not a CDI device name");
    const bad = fakeCdiHost({ '/etc/cdi/a.yaml': 'cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: "0"\n  containerEdits:\n    mounts:\n    - hostPath: lib\n      containerPath: /lib\n' });
    expect(loadCdiRegistry(bad).problems).toEqual(["/etc/cdi/a.yaml: devices[0].containerEdits.mounts[0].hostPath 'lib' is not an absolute path"]);
  });
});
