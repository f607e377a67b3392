// --mpi for MPI that a program loads at run time: python3 with Debian's mpi4py (in the
// hybrid image), and /opt/mpi/dlhello, which needs only libc and dlopens
// hello-module.so beside it, which needs libmpi (scripts/mpi-images.sh). And the verdict --mpi keeps between starts
// (src/mpi/plan-cache.ts): used while nothing changed, never when the image changed or
// the entry is not the user's own. Real SLURM and Debian's Open MPI on the host; run as
// the unprivileged user.
import { chmodSync, chownSync, copyFileSync, readdirSync, readFileSync, realpathSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mpiImage, srunAsUser, testSlurm } from '../support/slurm.js';
import { requireHost, SIF_BIN, sifAsUser, userId, userTempDir } from '../support/unprivileged.js';

const HOST_OPENMPI = '/usr/lib/x86_64-linux-gnu/libmpi.so.40';
const withOpenMpi = { SIF_MPI_LIBRARY: HOST_OPENMPI };

/** dev:inode as /proc/<pid>/maps writes them (hex major:minor, decimal inode). */
function mapsId(path: string): string {
  const s = statSync(path);
  const major = Math.floor(s.dev / 256) & 0xfff;
  const minor = (s.dev & 0xff) | ((s.dev >> 12) & 0xfff00);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')} ${s.ino}`;
}

let bare: string;
beforeAll(() => {
  requireHost();
  bare = mpiImage('mpi-bare');
}, 60_000);

describe('--mpi and MPI loaded at run time', () => {
  it("checks the module beside the program: dlhello's hello-module.so needs Open MPI's libmpi.so.40", async () => {
    const r = await sifAsUser(['doctor', '--mpi', bare, '/opt/mpi/dlhello'], { env: withOpenMpi });
    expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({ exitCode: 0, stderr: '' });
    expect(r.stdout).toContain('it loads no MPI library itself; modules beside it do (hello-module.so): checked as its own');
    expect(r.stdout).toMatch(/ABI: libmpi\.so\.40 and the host's libmpi\.so\.40 are both Open MPI/);
  }, 60_000);

  it('refuses a module built against MPICH with the host Open MPI, naming the module', async () => {
    const r = await sifAsUser(['doctor', '--mpi', mpiImage('mpi-mpich-app'), '/opt/mpi/dlhello'], { env: withOpenMpi });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/refused: --mpi: \/opt\/mpi\/hello-module\.so \(beside \/opt\/mpi\/dlhello, loaded at run time\) needs libmpich\.so\.12/);
    expect(r.stdout).toContain('verdict: --mpi refuses this command (SIF_E_MPI_ABI)');
  }, 60_000);

  it("under srun, the dlopen'ed module maps the host's libmpi file in every rank", async () => {
    await testSlurm();
    const r = await srunAsUser(['--mpi=pmix', '-n', '2', SIF_BIN, 'exec', '--mpi', bare, '/opt/mpi/dlhello', '--maps'], { env: withOpenMpi });
    expect({ exitCode: r.exitCode, stderr: r.exitCode === 0 ? '' : r.stderr }).toEqual({ exitCode: 0, stderr: '' });
    expect(r.stdout.match(/^hello rank=\d size=2 .* lib=Open MPI v4\./gm)).toHaveLength(2);
    const maps = r.stdout
      .split('\n')
      .map((l) => /^maps rank=(\d) dev=(\S+) inode=(\d+) path=(.*libmpi\.so\.40.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    expect(maps.map((m) => m[1]).sort()).toEqual(['0', '1']);
    for (const m of maps) expect({ id: `${m[2]} ${m[3]}`, path: m[4] }).toEqual({ id: mapsId(realpathSync(HOST_OPENMPI)), path: '/.singularity.d/libs/libmpi.so.40' });
  }, 180_000);

  it("python3 with Debian's mpi4py: the image's Open MPI says the family, and under srun each rank maps the host's libmpi", async () => {
    const hybrid = mpiImage('mpi-openmpi');
    const doctor = await sifAsUser(['doctor', '--mpi', hybrid, 'python3'], { env: withOpenMpi });
    expect(doctor.exitCode).toBe(0);
    expect(doctor.stdout).toMatch(/it loads no MPI library itself; the image's own libmpi\.so\.40 at \S+ \(what its programs and modules load at run time\) and the host's libmpi\.so\.40 are both Open MPI/);
    await testSlurm();
    const script = [
      'from mpi4py import MPI',
      'c = MPI.COMM_WORLD',
      'maps = sorted({" ".join(l.split()[3:6]) for l in open("/proc/self/maps") if "libmpi.so" in l})',
      'print(f"mpi4py rank={c.Get_rank()} size={c.Get_size()} maps={\'|\'.join(maps)}", flush=True)',
    ].join('\n');
    const r = await srunAsUser(['--mpi=pmix', '-n', '2', SIF_BIN, 'exec', '--mpi', hybrid, 'python3', '-c', script], { env: withOpenMpi });
    expect({ exitCode: r.exitCode, stderr: r.exitCode === 0 ? '' : r.stderr }).toEqual({ exitCode: 0, stderr: '' });
    const ranks = r.stdout.split('\n').filter((l) => l.startsWith('mpi4py ')).sort();
    const host = `${mapsId(realpathSync(HOST_OPENMPI))} /.singularity.d/libs/libmpi.so.40`;
    expect(ranks).toEqual([`mpi4py rank=0 size=2 maps=${host}`, `mpi4py rank=1 size=2 maps=${host}`]);
  }, 180_000);
});

describe('--mpi keeps its verdict between starts', () => {
  let dir: string;
  let image: string;
  const env = () => ({ ...withOpenMpi, XDG_RUNTIME_DIR: dir });
  const fromCache = /--mpi: plan from \S+\/sif\/mpi-plan-[0-9a-f]+\.json/;
  const hello = (extra: string[] = []) => sifAsUser(['-v', 'exec', '--mpi', ...extra, image, '/opt/mpi/hello'], { env: env() });

  beforeAll(() => {
    dir = userTempDir('sif-mpi-plan-');
    // A copy of its own, so that changing it changes no other test's image.
    image = join(dir, 'bare.sqfs');
    copyFileSync(bare, image);
    const { uid, gid } = userId();
    chownSync(image, uid, gid);
  }, 60_000);

  it('plans the first start, and takes the plan of the second from the cache', async () => {
    const first = await hello();
    expect(first.exitCode).toBe(0);
    expect(first.stderr).not.toMatch(fromCache);
    const second = await hello();
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toMatch(/^hello rank=0 size=1 .* lib=Open MPI v4\./m);
    expect(second.stderr).toMatch(fromCache);
  }, 60_000);

  it('plans again when the image file changed', async () => {
    const later = new Date(Date.now() + 5_000);
    utimesSync(image, later, later);
    const r = await hello();
    expect(r.exitCode).toBe(0);
    expect(r.stderr).not.toMatch(fromCache);
    expect((await hello()).stderr).toMatch(fromCache);
  }, 60_000);

  it('plans again when the host MPI named differs', async () => {
    const r = await sifAsUser(['-v', 'exec', '--mpi', image, '/opt/mpi/hello'], { env: { XDG_RUNTIME_DIR: dir, SIF_MPI_LIBRARY: realpathSync(HOST_OPENMPI) } });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).not.toMatch(fromCache);
  }, 60_000);

  it('plans again when SIF_SITE_CONFIG names another site file', async () => {
    await hello();
    const site = join(dir, 'sif.conf');
    writeFileSync(site, `mpi library = ${HOST_OPENMPI}\n`);
    chmodSync(site, 0o644);
    const r = await hello([]);
    expect(r.stderr).toMatch(fromCache);
    const other = await sifAsUser(['-v', 'exec', '--mpi', image, '/opt/mpi/hello'], { env: { ...env(), SIF_SITE_CONFIG: site } });
    expect(other.exitCode).toBe(0);
    expect(other.stderr).not.toMatch(fromCache);
    expect(other.stderr).toContain(`found by 'mpi library' in ${site}`);
  }, 60_000);

  it("does not trust an entry another user owns, nor one others may write: it plans again", async () => {
    await hello();
    const [entry] = readdirSync(join(dir, 'sif')).filter((n) => n.startsWith('mpi-plan-'));
    const file = join(dir, 'sif', entry!);
    // What another user could put there: the user's own cache, with /bin/sh as libmpi.
    const forged = JSON.parse(readFileSync(file, 'utf8')) as { value: { libraries: Array<{ src: string; name: string }> } };
    forged.value.libraries[0] = { src: '/bin/sh', name: 'libmpi.so.40' };
    writeFileSync(file, JSON.stringify(forged));
    chownSync(file, 0, 0);
    chmodSync(file, 0o644);
    const r = await hello();
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/lib=Open MPI v4\./);
    expect(r.stderr).not.toMatch(fromCache);
    // The same file made the user's again, but writable by the group.
    writeFileSync(file, JSON.stringify(forged));
    const { uid, gid } = userId();
    chownSync(file, uid, gid);
    chmodSync(file, 0o660);
    const g = await hello();
    expect(g.exitCode).toBe(0);
    expect(g.stdout).toMatch(/lib=Open MPI v4\./);
    expect(g.stderr).not.toMatch(fromCache);
  }, 60_000);
});
