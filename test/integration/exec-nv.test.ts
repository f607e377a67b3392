// --nv against the fake driver of scripts/fake-nvidia.sh (no GPU needed): what is bound,
// what a program loading libcuda.so.1 in the container is answered, --contain's device
// filtering, and a host without a driver. Run as the unprivileged user.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { makeBusyboxRootfs, makeSquashfs } from '../support/squashfs.js';
import { REPO_ROOT, requireHost, sifAsUser, userEnv, userTempDir } from '../support/unprivileged.js';

const FAKE_ROOT = join(REPO_ROOT, '.cache', 'fake-nvidia');
const MULTIARCH = '/lib/x86_64-linux-gnu';
let image: string;
let compatImage: string;

/** Busybox, the host's C library (the probe is a glibc program) and the probe; `compat`: the fake cuda-compat package too. */
async function makeProbeImage(compat = false): Promise<string> {
  const dir = userTempDir('sif-img-');
  const root = join(dir, 'root');
  await makeBusyboxRootfs(root);
  mkdirSync(join(root, MULTIARCH), { recursive: true });
  for (const lib of ['libc.so.6', 'ld-linux-x86-64.so.2']) copyFileSync(join(MULTIARCH, lib), join(root, MULTIARCH, lib));
  mkdirSync(join(root, 'lib64'));
  symlinkSync(`..${MULTIARCH}/ld-linux-x86-64.so.2`, join(root, 'lib64', 'ld-linux-x86-64.so.2'));
  copyFileSync(join(FAKE_ROOT, 'cuda-probe'), join(root, 'bin', 'cuda-probe'));
  chmodSync(join(root, 'bin', 'cuda-probe'), 0o755);
  if (compat) {
    const dir = join(root, 'usr/local/cuda-12.8/compat');
    mkdirSync(dir, { recursive: true });
    execFileSync('cp', ['-a', `${join(FAKE_ROOT, 'compat')}/.`, dir]);
    symlinkSync('cuda-12.8', join(root, 'usr/local/cuda'));
  }
  const out = join(dir, 'probe.sqfs');
  await makeSquashfs(root, out);
  chmodSync(out, 0o644);
  return out;
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const nv = (args: string[], env: Record<string, string> = {}) =>
  sifAsUser(['exec', '--nv', ...args], { env: userEnv({ SIF_TEST_NVIDIA_ROOT: FAKE_ROOT, ...env }) });

beforeAll(async () => {
  requireHost();
  execFileSync('bash', [join(REPO_ROOT, 'scripts', 'fake-nvidia.sh')], { stdio: 'inherit' });
  image = await makeProbeImage();
  compatImage = await makeProbeImage(true);
}, 120_000);

describe('sif exec --nv (fake driver)', () => {
  it('a program in the image loads libcuda.so.1 and NVML from the host driver', async () => {
    const r = await nv([image, '/bin/cuda-probe']);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout).toMatch(/^cuInit=0 cuDriverGetVersion=12040 cuDeviceGetCount=\d+ nvmlSystemGetDriverVersion=550\.54\.14$/m);
  });

  it("binds the running driver's 64-bit libraries, a libcuda.so link and nvidia-smi", async () => {
    const r = await nv([image, 'sh', '-c', 'ls /.singularity.d/libs; readlink /.singularity.d/libs/libcuda.so; nvidia-smi; echo "$LD_LIBRARY_PATH"']);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    // Not the 32-bit libcuda, not the 470 leftover of libnvidia-ml.
    expect(r.stdout.trim().split('\n')).toEqual([
      'libcuda.so', 'libcuda.so.1', 'libnvidia-ml.so.1', 'libnvidia-ptxjitcompiler.so.1',
      'libcuda.so.1',
      'fake nvidia-smi: driver 550.54.14, CUDA 12.4',
      '/.singularity.d/libs',
    ]);
  });

  it('with --compat32, the 32-bit set in /.singularity.d/libs32, after the 64-bit one; 64-bit programs unaffected', async () => {
    // od prints each file's ELF class byte: 1 is 32-bit, 2 is 64-bit.
    const script = 'ls /.singularity.d/libs32; for d in libs libs32; do od -An -tu1 -j4 -N1 /.singularity.d/$d/libcuda.so.1; done; echo "$LD_LIBRARY_PATH"; cuda-probe';
    const r = await nv(['--compat32', image, 'sh', '-c', script]);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    const lines = r.stdout.split('\n').map((l) => l.trim());
    expect(lines.slice(0, 5)).toEqual(['libcuda.so', 'libcuda.so.1', '2', '1', '/.singularity.d/libs:/.singularity.d/libs32']);
    expect(lines[5]).toMatch(/^cuInit=0 cuDriverGetVersion=12040 cuDeviceGetCount=\d+ nvmlSystemGetDriverVersion=550\.54\.14$/);
    // SIF_COMPAT32 asks the same; without either, no 32-bit directory.
    const env = await nv([image, 'sh', '-c', 'ls /.singularity.d/libs32'], { SIF_COMPAT32: '1' });
    expect(env.stdout.trim().split('\n')).toEqual(['libcuda.so', 'libcuda.so.1']);
    const without = await nv([image, 'sh', '-c', 'ls /.singularity.d; echo "$LD_LIBRARY_PATH"']);
    expect(without.stdout.trim().split('\n')).toEqual(['libs', '/.singularity.d/libs']);
  });

  it("with --nv-compat, the image's forward-compatibility libcuda in place of the host's; NVML stays the host's", async () => {
    const script = 'for l in libcuda.so.1 libnvidia-ptxjitcompiler.so.1; do readlink /.singularity.d/libs/$l; done; cuda-probe';
    const r = await nv(['--nv-compat', compatImage, 'sh', '-c', script]);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual(['/usr/local/cuda/compat/libcuda.so.570.86.10', '/usr/local/cuda/compat/libnvidia-ptxjitcompiler.so.570.86.10']);
    expect(lines[2]).toMatch(/^cuInit=0 cuDriverGetVersion=12080 cuDeviceGetCount=\d+ nvmlSystemGetDriverVersion=550\.54\.14$/);
    // Without the option the host's driver answers; the image is the same.
    const plain = await nv([compatImage, 'cuda-probe']);
    expect(plain.stdout).toMatch(/cuDriverGetVersion=12040 /);
    // An image without the package: a warning, the host's libcuda.
    const none = await nv(['--nv-compat', image, 'cuda-probe']);
    expect(none.stdout).toMatch(/cuDriverGetVersion=12040 /);
    expect(none.stderr).toMatch(/--nv-compat: the image has no CUDA forward-compatibility libraries/);
  });

  it('sif doctor --gpu --nv-compat IMAGE reads the package and its note', async () => {
    const r = await sifAsUser(['doctor', '--gpu', '--nv-compat', compatImage], { env: userEnv({ SIF_TEST_NVIDIA_ROOT: FAKE_ROOT }) });
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout).toContain("the image's CUDA forward-compatibility libraries: driver 570.86.10 in /usr/local/cuda/compat");
    expect(r.stdout).toContain('--nv-compat: driver branch 550 is one the package supports (535, 550, 560, 570)');
    expect(r.stdout).toContain('/.singularity.d/libs/libcuda.so.1 -> /usr/local/cuda/compat/libcuda.so.570.86.10  (link)');
  });

  it('writes the ICD files, a host library path made a bare name', async () => {
    const r = await nv([image, 'sh', '-c', 'cat /etc/OpenCL/vendors/nvidia.icd; grep library_path /usr/share/vulkan/icd.d/nvidia_icd.json']);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout.split('\n').map((l) => l.trim())).toEqual(['libnvidia-opencl.so.1', '"library_path": "libGLX_nvidia.so.0",', '']);
  });

  it('the libraries are read-only in the container', async () => {
    const r = await nv([image, 'sh', '-c', 'echo x > /.singularity.d/libs/libcuda.so.1']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  it('with --contain binds the control nodes and the visible GPU only, renumbered for CUDA', async () => {
    const r = await nv(['--contain', image, 'sh', '-c', 'ls /dev /dev/nvidia-caps; echo "CVD=$CUDA_VISIBLE_DEVICES"; cuda-probe'], { CUDA_VISIBLE_DEVICES: '1' });
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    const lines = r.stdout.split('\n');
    expect(lines).toEqual(expect.arrayContaining(['nvidia1', 'nvidiactl', 'nvidia-uvm', 'nvidia-uvm-tools', 'nvidia-cap1', 'CVD=0']));
    expect(lines).not.toContain('nvidia0');
    expect(r.stdout).toMatch(/cuDeviceGetCount=1 /);
  });

  describe('with --contain, GPUs and MIG devices named by UUID', () => {
    const G0 = 'GPU-00000000-0000-4000-8000-000000000000';
    const M0 = 'MIG-aaaaaaaa-0000-5000-8000-000000000000';
    const M1 = 'MIG-bbbbbbbb-1111-5111-8111-111111111111';
    const look = 'ls /dev | grep "^nvidia[0-9]"; ls /dev/nvidia-caps | sort -V | tr "\\n" " "; echo; echo "CVD=$CUDA_VISIBLE_DEVICES"';

    it("a GPU UUID: that GPU's node, no other GPU's MIG capabilities, CUDA told the UUID", async () => {
      const r = await nv(['--contain', image, 'sh', '-c', look], { NVIDIA_VISIBLE_DEVICES: G0 });
      expect(r).toMatchObject({ exitCode: 0, stderr: '' });
      expect(r.stdout.split('\n')).toEqual(['nvidia0', 'nvidia-cap1 nvidia-cap2 ', `CVD=${G0}`, '']);
    });

    it("a MIG UUID (placed by nvidia-smi -L): its GPU's node and that GPU's MIG capabilities", async () => {
      const r = await nv(['--contain', image, 'sh', '-c', look], { CUDA_VISIBLE_DEVICES: M1 });
      expect(r).toMatchObject({ exitCode: 0, stderr: '' });
      expect(r.stdout.split('\n')).toEqual(['nvidia1', 'nvidia-cap1 nvidia-cap2 nvidia-cap147 nvidia-cap148 nvidia-cap156 nvidia-cap157 ', `CVD=${M1}`, '']);
      // NVIDIA_VISIBLE_DEVICES' gpu:mig form reaches CUDA as the MIG device's UUID.
      const pair = await nv(['--contain', image, 'sh', '-c', look], { NVIDIA_VISIBLE_DEVICES: '1:0' });
      expect(pair.stdout.split('\n')[2]).toBe(`CVD=${M0}`);
    });

    it('a MIG instance by GPU UUID and instance ids: only that instance\'s capabilities', async () => {
      const r = await nv(['--contain', image, 'sh', '-c', look], { CUDA_VISIBLE_DEVICES: 'MIG-GPU-11111111-1111-4111-8111-111111111111/2/0' });
      expect(r).toMatchObject({ exitCode: 0, stderr: '' });
      expect(r.stdout.split('\n').slice(0, 2)).toEqual(['nvidia1', 'nvidia-cap1 nvidia-cap2 nvidia-cap156 nvidia-cap157 ']);
    });

    it('sif doctor --gpu says how each was found', async () => {
      const r = await sifAsUser(['doctor', '--gpu', '--contain'], { env: userEnv({ SIF_TEST_NVIDIA_ROOT: FAKE_ROOT, CUDA_VISIBLE_DEVICES: `${M1},${G0}` }) });
      expect(r).toMatchObject({ exitCode: 0, stderr: '' });
      expect(r.stdout).toContain(`device ${M1}: MIG device 1 (${M1}) of GPU 1, /dev/nvidia1`);
      expect(r.stdout).toContain(`device ${G0}: /dev/nvidia0 (0000:3b:00.0)`);
      expect(r.stdout).toContain(`CUDA_VISIBLE_DEVICES=${M1},${G0}`);
    });
  });

  it('binds the MPS pipe directory read-write, also under --contain', async () => {
    const r = await nv(['--contain', image, 'sh', '-c', 'touch /tmp/nvidia-mps/client-$$ && ls /tmp/nvidia-mps && rm /tmp/nvidia-mps/client-$$']);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout).toMatch(/^client-\d+$/m);
    // Not where /tmp is a host directory (--workdir's): sif makes no mount point there.
    const wd = await nv(['--contain', '--workdir', userTempDir('sif-wd-'), image, 'true']);
    expect(wd).toMatchObject({ exitCode: 0, stderr: '' });
  });

  it("with --contain and Slurm's GPU binding, those GPUs' nodes", async () => {
    const r = await nv(['--contain', image, 'cuda-probe'], { SLURM_STEP_GPUS: '0,1', CUDA_VISIBLE_DEVICES: '0,1' });
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout).toMatch(/cuDeviceGetCount=2 /);
    const none = await nv(['--contain', image, 'cuda-probe'], { NVIDIA_VISIBLE_DEVICES: 'none' });
    expect(none.stdout).toMatch(/cuInit=0 .*cuDeviceGetCount=0 /);
  });

  it('without a driver: a warning, and the command runs', async () => {
    const r = await nv([image, 'sh', '-c', 'echo ran; ls /.singularity.d/libs 2>&1 | head -1'], { SIF_TEST_NVIDIA_ROOT: '/nonexistent' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('ran');
    expect(r.stderr).toMatch(/no NVIDIA driver is loaded on this host .*running without GPU support/);
  });

  it('changes nothing of the image', async () => {
    const before = sha(image);
    await nv([image, 'true']);
    const plain = await sifAsUser(['exec', image, 'sh', '-c', 'ls -a / /.singularity.d 2>&1; ls /usr 2>&1'], { env: userEnv() });
    expect(plain.stdout).not.toMatch(/nvidia|libcuda/);
    expect(plain.stdout).toMatch(/\/\.singularity\.d.*No such file/);
    expect(sha(image)).toBe(before);
  });
});

describe('sif doctor --gpu (fake driver)', () => {
  it('prints every decision: what is bound, what is left out and why', async () => {
    const r = await sifAsUser(['doctor', '--gpu', '--contain'], { env: userEnv({ SIF_TEST_NVIDIA_ROOT: FAKE_ROOT, CUDA_VISIBLE_DEVICES: '1' }) });
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    const lib = join(FAKE_ROOT, 'usr/lib/x86_64-linux-gnu');
    expect(r.stdout).toContain('driver 550.54.14 (/proc/driver/nvidia/version), CUDA 12.4');
    expect(r.stdout).toContain(`library libcuda.so.1: ${lib}/libcuda.so.550.54.14 (ld.so.cache)`);
    expect(r.stdout).toContain('32-bit libraries not bound: libcuda.so.1 (--compat32 binds them into /.singularity.d/libs32, for 32-bit programs)');
    expect(r.stdout).toMatch(/skip \S+\/opt\/old\/libnvidia-ml\.so\.1 .*(not of driver 550\.54\.14|already bound)/);
    expect(r.stdout).toContain('CUDA_VISIBLE_DEVICES=0 in the container: CUDA numbers /dev/nvidia1 from 0');
    expect(r.stdout).toContain(`/dev/nvidia1  <-  ${FAKE_ROOT}/dev/nvidia1`);
    expect(r.stdout).not.toContain('/dev/nvidia0  <-');
  });

  it('without a driver says so', async () => {
    const r = await sifAsUser(['doctor', '--gpu'], { env: userEnv({ SIF_TEST_NVIDIA_ROOT: '/nonexistent' }) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/warnings:\n {2}--nv: no NVIDIA driver is loaded/);
  });
});

describe('sif exec --device nvidia.com/gpu=... (the fake driver\'s CDI spec)', () => {
  const cdi = (args: string[], env: Record<string, string> = {}) =>
    sifAsUser(['exec', ...args], { env: userEnv({ SIF_TEST_NVIDIA_ROOT: FAKE_ROOT, ...env }) });
  const lib = '/usr/lib/x86_64-linux-gnu';

  it("applies the device's nodes, the spec's variables and libraries; the hooks' links made by sif", async () => {
    const script = 'ls /dev; echo "NVD=$NVIDIA_VISIBLE_DEVICES LD=$LD_LIBRARY_PATH"; ls -l /.singularity.d/libs | sed -n "s/.* \\([^ ]*\\) -> \\(.*\\)/\\1 -> \\2/p"; cuda-probe; nvidia-smi';
    const r = await cdi(['--contain', '--device', 'nvidia.com/gpu=1', image, 'sh', '-c', script]);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toEqual(expect.arrayContaining(['nvidia1', 'nvidiactl', 'nvidia-uvm', 'nvidia-uvm-tools', 'NVD=void LD=/.singularity.d/libs']));
    expect(lines).not.toContain('nvidia0');
    expect(lines).toEqual(expect.arrayContaining([
      `libcuda.so.1 -> ${lib}/libcuda.so.550.54.14`,
      `libnvidia-ml.so.1 -> ${lib}/libnvidia-ml.so.550.54.14`,
      'libcuda.so -> libcuda.so.1',
    ]));
    expect(r.stdout).toMatch(/^cuInit=0 cuDriverGetVersion=12040 cuDeviceGetCount=1 nvmlSystemGetDriverVersion=550\.54\.14$/m);
    expect(r.stdout).toContain('fake nvidia-smi: driver 550.54.14, CUDA 12.4');
    // The hook sif cannot stand in for is named in a warning.
    expect(r.stderr).toMatch(/a CDI hook was skipped .*nvidia-cdi-hook enable-cuda-compat/);
  });

  it('takes the device by UUID or all, from SIF_DEVICE too, and lists the hooks under --verbose', async () => {
    const byUuid = await cdi(['--contain', '--device', 'nvidia.com/gpu=GPU-00000000-0000-4000-8000-000000000000', image, 'cuda-probe']);
    expect(byUuid.stdout).toMatch(/cuDeviceGetCount=1 /);
    const all = await cdi(['--contain', image, 'cuda-probe'], { SIF_DEVICE: 'nvidia.com/gpu=all' });
    expect(all.stdout).toMatch(/cuDeviceGetCount=2 /);
    const verbose = await cdi(['--verbose', '--contain', '--device', 'nvidia.com/gpu=0', image, 'true']);
    expect(verbose.exitCode).toBe(0);
    expect(verbose.stderr).toMatch(/createContainer hook \/usr\/bin\/nvidia-cdi-hook update-ldcache --folder \/usr\/lib\/x86_64-linux-gnu: not run \(needs root\)/);
    expect(verbose.stderr).toMatch(/createContainer hook \/usr\/bin\/nvidia-cdi-hook create-symlinks --link libcuda\.so\.1::\/usr\/lib\/x86_64-linux-gnu\/libcuda\.so: not run \(needs root\); its links are made by sif/);
  });

  it('an unknown device: an error naming those the spec defines', async () => {
    const r = await cdi(['--contain', '--device', 'nvidia.com/gpu=7', image, 'true']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('no CDI device nvidia.com/gpu=7: the specs in');
    expect(r.stderr).toContain('define nvidia.com/gpu=0, nvidia.com/gpu=1, nvidia.com/gpu=GPU-00000000-0000-4000-8000-000000000000');
    // The error comes from the GPU bundle: reported as sif's own, with its hint.
    expect(r.stderr).toContain('\nhint: choose one of those (sif doctor --gpu lists them)');
  });

  it("without --contain, nodes the host's /dev lacks are left out with a warning; the libraries still load", async () => {
    const r = await cdi(['--device', 'nvidia.com/gpu=0', image, 'cuda-probe']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^cuInit=0 cuDriverGetVersion=12040 /m);
    expect(r.stderr).toMatch(/the device node \S+\/dev\/nvidia0 goes at \/dev\/nvidia0, which the host's \/dev .* lacks: skipped; use --contain/);
  });

  it('sif doctor --gpu lists the CDI specs and their devices', async () => {
    const r = await sifAsUser(['doctor', '--gpu'], { env: userEnv({ SIF_TEST_NVIDIA_ROOT: FAKE_ROOT }) });
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout).toContain(`${FAKE_ROOT}/etc/cdi/nvidia.yaml: nvidia.com/gpu, cdiVersion 0.5.0`);
    expect(r.stdout).toContain('devices: 0 1 GPU-00000000-0000-4000-8000-000000000000 GPU-11111111-1111-4111-8111-111111111111 all');
    // With --device: what it would apply, decision by decision.
    const d = await sifAsUser(['doctor', '--gpu', '--contain', '--device', 'nvidia.com/gpu=1'], { env: userEnv({ SIF_TEST_NVIDIA_ROOT: FAKE_ROOT }) });
    expect(d).toMatchObject({ exitCode: 0, stderr: '' });
    expect(d.stdout).toContain(`device nvidia.com/gpu=1: ${FAKE_ROOT}/etc/cdi/nvidia.yaml (cdiVersion 0.5.0)`);
    expect(d.stdout).toContain(`  /dev/nvidia1  <-  ${FAKE_ROOT}/dev/nvidia1`);
    expect(d.stdout).toContain('  /.singularity.d/libs/libcuda.so.1 -> /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14  (link)');
    expect(d.stdout).toMatch(/hooks:\n {2}createContainer hook \/usr\/bin\/nvidia-cdi-hook create-symlinks/);
    expect(d.stdout).toContain('  NVIDIA_VISIBLE_DEVICES=void');
    expect(d.stdout.slice(d.stdout.indexOf('\n--device '))).not.toContain('/dev/nvidia0  <-');
  });
});
