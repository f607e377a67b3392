// The bind model (--mpi) on this host, one process, no launcher: Debian's Open MPI
// (scripts/setup-host.sh installs it) bound into the hybrid image, whose own Open MPI
// it must replace; sif doctor --mpi's decisions; and a refusal, with a library of
// another MPI family made here with gcc. Run as the unprivileged user.
import { execFileSync } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mpiImage } from '../support/slurm.js';
import { requireHost, sifAsUser, testImagesDir, userTempDir } from '../support/unprivileged.js';

const HOST_LIBMPI = '/usr/lib/x86_64-linux-gnu/libmpi.so.40';
let image: string;
let dir: string;

/** dev:inode as /proc/<pid>/maps writes them (hex major:minor, decimal inode). */
function mapsId(path: string): string {
  const s = statSync(path);
  const major = Math.floor(s.dev / 256) & 0xfff;
  const minor = (s.dev & 0xff) | ((s.dev >> 12) & 0xfff00);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')} ${s.ino}`;
}

beforeAll(() => {
  requireHost();
  image = mpiImage('mpi-openmpi');
  dir = userTempDir('sif-mpi-core-');
  chmodSync(dir, 0o755);
}, 60_000);

describe('sif exec --mpi with the host Open MPI (singleton)', () => {
  it('runs /opt/mpi/hello, which loads libmpi.so.40 from /.singularity.d/libs', async () => {
    const r = await sifAsUser(['exec', '--mpi', '--env', 'LD_DEBUG=libs', image, '/opt/mpi/hello']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^hello rank=0 size=1 host=\S+ pid=\d+ lib=Open MPI v4\.1\.4$/m);
    expect(r.stderr).toMatch(/calling init: \/\.singularity\.d\/libs\/libmpi\.so\.40\n/);
    expect(r.stderr).toMatch(/calling init: \/\.singularity\.d\/libs\/libopen-pal\.so\.40\n/);
  }, 60_000);

  it("maps the host's libmpi file (its device and inode) into the process", async () => {
    const script = 'import ctypes\nctypes.CDLL("libmpi.so.40")\nprint("".join(l for l in open("/proc/self/maps") if "libmpi.so.40" in l))';
    const r = await sifAsUser(['exec', '--mpi', image, 'python3', '-c', script]);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    const line = r.stdout.split('\n').find((l) => l.includes('libmpi.so.40'));
    expect(line).toBeDefined();
    const [, , , dev, inode, path] = line!.trim().split(/\s+/);
    expect({ id: `${dev} ${inode}`, path }).toEqual({ id: mapsId(HOST_LIBMPI), path: '/.singularity.d/libs/libmpi.so.40' });
  }, 60_000);

  it('puts /.singularity.d/libs first on LD_LIBRARY_PATH and binds the components at their own path', async () => {
    const r = await sifAsUser(['exec', '--mpi', '--env', 'LD_LIBRARY_PATH=/opt/x', image, 'sh', '-c',
      'echo "$LD_LIBRARY_PATH"; stat -c "%d %i" /usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/mca_btl_vader.so']);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    const vader = statSync('/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/mca_btl_vader.so');
    expect(r.stdout.split('\n')).toEqual(['/.singularity.d/libs:/opt/x', `${vader.dev} ${vader.ino}`, '']);
  }, 60_000);

  it("--contain --cleanenv: the host's /dev/shm, and the launcher and interconnect variables pass", async () => {
    const r = await sifAsUser(['exec', '--mpi', '--contain', '--cleanenv', image, 'sh', '-c', 'stat -c "%d %i" /dev/shm; echo "$PMIX_RANK $UCX_TLS ${MY_VAR:-unset}"'], {
      env: { PMIX_RANK: '0', UCX_TLS: 'self,sm', MY_VAR: 'x' },
    });
    const shm = statSync('/dev/shm');
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout.split('\n')).toEqual([`${shm.dev} ${shm.ino}`, '0 self,sm unset', '']);
  }, 60_000);

  it('says under --verbose how the MPI was found', async () => {
    const r = await sifAsUser(['-v', 'exec', '--mpi', image, 'true']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/sif: info: --mpi: host MPI: \S+libmpi\.so\.40 -> \S+ soname libmpi\.so\.40, Open MPI 3\.0 or later \(found by host ld\.so\.cache entry libmpi\.so\.40/);
  }, 60_000);
});

describe('sif exec --mpi in an image without MPI', () => {
  it("python3 of the Debian image loads the host's libmpi, MPI_Init and MPI_Finalize succeed", async () => {
    // Components, help files and PMIx's plugins come from the host at their own paths,
    // which the image lacks: the starter makes the mount points in its overlays.
    const script = [
      'import ctypes',
      'm = ctypes.CDLL("libmpi.so.40", mode=ctypes.RTLD_GLOBAL)',
      'print("init", m.MPI_Init(None, None))',
      'buf = ctypes.create_string_buffer(256); n = ctypes.c_int()',
      'm.MPI_Get_library_version(buf, ctypes.byref(n)); print(buf.value.split(b",")[0].decode())',
      'print("finalize", m.MPI_Finalize())',
    ].join('\n');
    const r = await sifAsUser(['exec', '--mpi', join(testImagesDir(), 'python.sqfs'), 'python3', '-c', script]);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'init 0\nOpen MPI v4.1.4\nfinalize 0\n' });
  }, 60_000);
});

describe('sif doctor --mpi', () => {
  it('prints every decision and exits 0 where --mpi would go on', async () => {
    const r = await sifAsUser(['doctor', '--mpi', image, '/opt/mpi/hello']);
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    for (const re of [
      /^ {2}command \/opt\/mpi\/hello \(in the image\): 64-bit x86-64$/m,
      /^ {2}it needs libmpi\.so\.40 \(Open MPI 3\.0 or later\), via hello; the image has its own at \S+libmpi\.so\.40$/m,
      /^ {2}ABI: libmpi\.so\.40 and the host's libmpi\.so\.40 are both Open MPI/m,
      /^ {2}Open MPI components: \/usr\/lib\/x86_64-linux-gnu\/openmpi\/lib\/openmpi3, bound at the same path$/m,
      /^ {2}glibc: the host objects need up to GLIBC_2\.\d+, the image defines all of it$/m,
      /^verdict: --mpi would bind \d+ libraries and \d+ paths$/m,
    ]) expect(r.stdout).toMatch(re);
  }, 60_000);
});

describe('--mpi refuses a host MPI of another family', () => {
  let fake: string;
  beforeAll(() => {
    // A library that calls itself Debian's MPICH: the hello of the image needs Open MPI's ABI.
    const src = join(dir, 'fake.c');
    writeFileSync(src, 'int MPI_Init(int *c, char ***v) { (void)c; (void)v; return 0; }\n');
    fake = join(dir, 'libmpich.so.12');
    execFileSync('gcc', ['-shared', '-fPIC', '-Wl,-soname,libmpich.so.12', '-o', fake, src]);
    chmodSync(fake, 0o755);
  });

  it('sif exec --mpi: exit 125, naming both libraries, both families and the way out', async () => {
    const r = await sifAsUser(['exec', '--mpi', image, '/opt/mpi/hello'], { env: { SIF_MPI_LIBRARY: fake } });
    expect(r.exitCode).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`sif: error: --mpi: /opt/mpi/hello (in the image) needs libmpi.so.40 (Open MPI 3.0 or later), but the host's MPI is libmpich.so.12 at ${fake} (the MPICH ABI: MPICH, Intel MPI, MVAPICH2, Cray MPICH): the two ABIs are incompatible`);
    expect(r.stderr).toMatch(/hint: run without --mpi to use the image's own MPI.*SIF_MPI_LIBRARY=PATH/);
  }, 60_000);

  it('sif doctor --mpi: the same verdict, exit 1; the site file wins over SIF_MPI_LIBRARY', async () => {
    const r = await sifAsUser(['doctor', '--mpi', image, '/opt/mpi/hello'], { env: { SIF_MPI_LIBRARY: fake } });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^ {2}host MPI: \S+libmpich\.so\.12 .*found by SIF_MPI_LIBRARY\)$/m);
    expect(r.stdout).toMatch(/^verdict: --mpi refuses this command \(SIF_E_MPI_ABI\)$/m);
    const site = join(dir, 'sif.conf');
    writeFileSync(site, `mpi library = ${HOST_LIBMPI}\nmpi env = SIF_TEST_SITE=yes\n`);
    chmodSync(site, 0o644);
    const ok = await sifAsUser(['doctor', '--mpi', image, '/opt/mpi/hello'], { env: { SIF_MPI_LIBRARY: fake, SIF_SITE_CONFIG: site } });
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain(`found by 'mpi library' in ${site})`);
    expect(ok.stdout).toContain('SIF_TEST_SITE=yes (site file \'mpi env\')');
  }, 60_000);
});
