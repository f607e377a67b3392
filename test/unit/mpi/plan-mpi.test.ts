import { type MpiRequest, planMpi } from '../../../src/mpi/plan-mpi.js';
import { debianImage, debianOpenMpiHost, fakeImage, fakeMpiHost, so, type Tree } from './fake-mpi.js';

const L = '/usr/lib/x86_64-linux-gnu';
const PATH = '/usr/local/bin:/usr/bin:/bin';

function request(argv: string[], over: Partial<MpiRequest> = {}, env: Record<string, string> = {}): MpiRequest {
  return { contain: false, cleanenv: false, uid: 4242, command: { argv, env: { PATH, ...env }, cwd: '/home/alice', hostPathOf: () => undefined }, ...over };
}

const plan = (argv: string[], opts: { host?: Tree; image?: Tree; env?: Record<string, string>; site?: string; req?: Partial<MpiRequest> } = {}) =>
  planMpi(request(argv, opts.req), { host: fakeMpiHost(opts.host ?? debianOpenMpiHost(), { env: opts.env ?? {}, ...(opts.site ? { site: opts.site } : {}) }), image: fakeImage(opts.image ?? debianImage()) });

describe('planMpi: Open MPI on a Debian host, a program built against it', () => {
  const p = plan(['/opt/mpi/hello']);

  it('binds the MPI library and its closure into /.singularity.d/libs, the C library family left to the image', () => {
    expect(p.refusal).toBeUndefined();
    const names = p.libraries.map((l) => l.name);
    expect(names.slice(0, 6)).toEqual(['libmpi.so.40', 'libopen-rte.so.40', 'libopen-pal.so.40', 'libhwloc.so.15', 'libz.so.1', 'libevent_core-2.1.so.7']);
    expect(names).not.toContain('libc.so.6');
    expect(names).not.toContain('libm.so.6');
    expect(p.libraries[0]).toEqual({ src: `${L}/libmpi.so.40`, name: 'libmpi.so.40' });
  });

  it("adds what the components need (UCX for mca_pml_ucx) and binds their directories at the same path", () => {
    const names = p.libraries.map((l) => l.name);
    expect(names).toEqual(expect.arrayContaining(['libucp.so.0', 'libucs.so.0', 'libmca_common_ucx.so.40']));
    expect(p.ops.filter((o) => o.op === 'bind' && o.readonly).map((o) => o.dst)).toEqual([
      `${L}/openmpi/lib/openmpi3`, '/usr/share/openmpi', '/etc/openmpi', `${L}/ucx`,
    ]);
    expect(p.notes).toContain('not on the host: libibverbs.so.1, needed by mca_btl_openib.so (those plugins do not load on the host either)');
  });

  it('says how the MPI was found, the ABI verdict and the glibc verdict', () => {
    expect(p.notes).toEqual(expect.arrayContaining([
      expect.stringMatching(/^host MPI: \/usr\/lib\/x86_64-linux-gnu\/libmpi\.so\.40 .*found by host ld\.so\.cache entry libmpi\.so\.40\)$/),
      expect.stringMatching(/^it needs libmpi\.so\.40 \(Open MPI 3\.0 or later/),
      expect.stringMatching(/^ABI: libmpi\.so\.40 and the host's libmpi\.so\.40 are both Open MPI/),
      'glibc: the host objects need up to GLIBC_2.34, the image defines all of it',
    ]));
  });

  it('passes the munge socket directory; /dev and /tmp are the host\'s already', () => {
    expect(p.ops.filter((o) => !('readonly' in o && o.readonly)).map((o) => o.dst)).toEqual(['/run/munge']);
  });
});

describe('planMpi: refusals', () => {
  it('a program built against MPICH, on a host with Open MPI only', () => {
    const p = plan(['hello-mpich'], { image: debianImage(36, { '/usr/bin/hello-mpich': ['libmpich.so.12', 'libc.so.6'] }) });
    expect(p.refusal?.code).toBe('SIF_E_MPI_ABI');
    expect(p.refusal?.message).toBe(
      "--mpi: /usr/bin/hello-mpich (in the image) needs libmpich.so.12 (the MPICH ABI: MPICH, Intel MPI, MVAPICH2, Cray MPICH), but the host's MPI is libmpi.so.40 at /usr/lib/x86_64-linux-gnu/libmpi.so.40 (Open MPI 3.0 or later): the two ABIs are incompatible",
    );
    expect(p.refusal?.hint).toMatch(/without --mpi.*SIF_MPI_LIBRARY=PATH/);
    expect(p.libraries).toEqual([]);
  });

  it('an image whose glibc is older than the host objects need', () => {
    const p = plan(['/opt/mpi/hello'], { image: debianImage(31) });
    expect(p.refusal?.code).toBe('SIF_E_MPI_GLIBC');
    expect(p.refusal?.message).toMatch(/^--mpi: the image's C library \(\/lib\/x86_64-linux-gnu\/libc\.so\.6, up to GLIBC_2\.31\) is older than the host's MPI needs: GLIBC_2\.33 from libc\.so\.6 \(needed by libopen-rte\.so\.40\); GLIBC_2\.34 from libc\.so\.6 \(needed by libmpi\.so\.40, libopen-pal\.so\.40\)$/);
    expect(p.refusal?.hint).toBe('run an image whose glibc has GLIBC_2.34 or later, or run without --mpi with the MPI inside the image');
  });

  it('an image without a GNU C library', () => {
    const image: Tree = { '/bin/busybox': so({ type: 'executable' }) };
    const p = plan(['/bin/busybox'], { image });
    expect(p.refusal?.code).toBe('SIF_E_MPI_GLIBC');
    expect(p.refusal?.message).toMatch(/the image has no GNU C library/);
  });

  it('a program of another machine', () => {
    const image = { ...debianImage(), '/opt/arm/hello': so({ type: 'executable', machine: 183, machineName: 'AArch64', needed: ['libmpi.so.40'] }) };
    const p = plan(['/opt/arm/hello'], { image });
    expect(p.refusal?.code).toBe('SIF_E_MPI_ELF');
    expect(p.refusal?.message).toMatch(/is 64-bit AArch64, the host's libmpi\.so\.40 64-bit x86-64/);
  });

  it('a Fortran program whose bindings the host lacks', () => {
    const host = debianOpenMpiHost();
    delete host[`${L}/libmpi_mpifh.so.40`];
    const p = plan(['/opt/f'], { host, image: debianImage(36, { '/opt/f': ['libmpi_mpifh.so.40', 'libmpi.so.40', 'libc.so.6'] }) });
    expect(p.refusal?.message).toMatch(/needs libmpi_mpifh\.so\.40, which the host's Open MPI .* lacks/);
  });

  it("a program needing a newer libstdc++ than the host's, which --mpi would bind in its place", () => {
    const host: Tree = { ...debianOpenMpiHost(), [`${L}/libstdc++.so.6`]: so({ soname: 'libstdc++.so.6', versionsDefined: ['GLIBCXX_3.4', 'GLIBCXX_3.4.29'] }) };
    (host[`${L}/libopen-pal.so.40`] as { needed: string[] }).needed.push('libstdc++.so.6');
    const image = { ...debianImage(36, {}), '/opt/app': so({ type: 'executable', needed: ['libmpi.so.40', 'libstdc++.so.6'], versionsNeeded: [{ file: 'libstdc++.so.6', versions: ['GLIBCXX_3.4', 'GLIBCXX_3.4.30'], weak: [] }] }) };
    const p = plan(['/opt/app'], { host, image });
    expect(p.refusal?.code).toBe('SIF_E_MPI_GLIBC');
    expect(p.refusal?.message).toBe("--mpi: /opt/app needs GLIBCXX_3.4.30 from libstdc++.so.6, which the host's copy that --mpi binds in place of the image's lacks (it comes with the host's MPI)");
  });

  it('no MPI on the host', () => {
    const p = plan(['/opt/mpi/hello'], { host: { '/run/munge': 'dir' } });
    expect(p.refusal?.code).toBe('SIF_E_MPI_NOT_FOUND');
    expect(p.refusal?.hint).toMatch(/'mpi library = PATH' in \/etc\/sif\/sif\.conf or SIF_MPI_LIBRARY=PATH/);
  });
});

describe('planMpi: commands it cannot read, and other families', () => {
  it('a script: says so and checks only the C library', () => {
    const p = plan(['run.sh']);
    expect(p.refusal).toBeUndefined();
    expect(p.notes).toContain("cannot read the command's needs (/usr/bin/run.sh (image): not an ELF program (a script?)): its MPI ABI is not checked, only the C library");
    expect(p.libraries[0]?.name).toBe('libmpi.so.40');
  });

  it('a program without MPI, in an image without MPI: bound, noted as not checked', () => {
    const p = plan(['true']);
    expect(p.refusal).toBeUndefined();
    expect(p.libraries[0]?.name).toBe('libmpi.so.40');
    expect(p.notes).toContain(
      "/usr/bin/true (in the image) loads no MPI library itself, nor do modules beside it, and the image holds none: an MPI it loads at run time (mpi4py, a dlopen'ed module) is not checked against the host's libmpi.so.40 (Open MPI 3.0 or later); bound anyway",
    );
    expect(p.warnings).toEqual([]);
  });

  it("binds Fortran bindings the program needs beside libmpi", () => {
    const p = plan(['/opt/f'], { image: debianImage(36, { '/opt/f': ['libmpi_mpifh.so.40', 'libmpi.so.40', 'libc.so.6'] }) });
    expect(p.refusal).toBeUndefined();
    expect(p.libraries.map((l) => l.name).slice(0, 2)).toEqual(['libmpi.so.40', 'libmpi_mpifh.so.40']);
  });

  it("Debian's MPICH answers to libmpi.so.12 too, and is chosen over Open MPI for a program that needs it", () => {
    const host: Tree = { ...debianOpenMpiHost(), [`${L}/libmpich.so.12`]: so({ soname: 'libmpich.so.12', needed: ['libhwloc.so.15', 'libc.so.6'] }) };
    const p = plan(['/opt/h'], { host, image: debianImage(36, { '/opt/h': ['libmpi.so.12', 'libc.so.6'] }) });
    expect(p.refusal).toBeUndefined();
    expect(p.host).toMatchObject({ soname: 'libmpich.so.12', family: 'mpich' });
    expect(p.libraries.slice(0, 2)).toEqual([
      { src: `${L}/libmpich.so.12`, name: 'libmpich.so.12' },
      { src: `${L}/libmpich.so.12`, name: 'libmpi.so.12' },
    ]);
    expect(p.notes).toContain(`also on the host: libmpi.so.40 (Open MPI 3.0 or later) at ${L}/libmpi.so.40, not used`);
  });

  it('reads a program from the host where a bind shows a host directory', () => {
    const host: Tree = { ...debianOpenMpiHost(), '/scratch/alice/solver': so({ type: 'executable', needed: ['libmpich.so.12'] }) };
    const req = request(['./solver'], {}, {});
    req.command = { ...req.command, cwd: '/work', hostPathOf: (p) => (p.startsWith('/work/') ? `/scratch/alice/${p.slice(6)}` : undefined) };
    const p = planMpi(req, { host: fakeMpiHost(host), image: fakeImage(debianImage()) });
    expect(p.need?.program).toMatchObject({ path: '/work/solver', where: 'host' });
    expect(p.refusal?.message).toMatch(/^--mpi: \/work\/solver \(a host file bound in\) needs libmpich\.so\.12/);
  });
});

describe('planMpi: discovery order, site file, pass-through', () => {
  const mpich: Tree = { ...debianOpenMpiHost(), '/opt/mpich/lib/libmpi.so.12': so({ soname: 'libmpi.so.12', needed: ['libc.so.6'] }) };

  it('the site file, then SIF_MPI_LIBRARY, then the cache', () => {
    const site = 'mpi library = /opt/mpich/lib/libmpi.so.12\n';
    expect(plan(['true'], { host: mpich, site }).host).toMatchObject({ path: '/opt/mpich/lib/libmpi.so.12', how: "'mpi library' in /etc/sif/sif.conf" });
    const env = { SIF_MPI_LIBRARY: '/opt/mpich/lib/libmpi.so.12' };
    expect(plan(['true'], { host: mpich, env }).host).toMatchObject({ family: 'mpich', how: 'SIF_MPI_LIBRARY' });
    expect(plan(['true'], { host: mpich, env, site: `mpi library = ${L}/libmpi.so.40\n` }).host?.soname).toBe('libmpi.so.40');
  });

  it('SIF_MPI_LIBRARY naming a library that is no MPI is refused, naming it', () => {
    const p = plan(['true'], { env: { SIF_MPI_LIBRARY: `${L}/libz.so.1` } });
    expect(p.refusal?.code).toBe('SIF_E_MPI_NOT_FOUND');
    expect(p.refusal?.message).toMatch(/SIF_MPI_LIBRARY names \/usr\/lib\/x86_64-linux-gnu\/libz\.so\.1, whose soname libz\.so\.1 is no MPI library sif knows/);
  });

  it('--contain: the host /dev/shm, interconnect devices, the PMIx client directory; site binds and variables', () => {
    const host: Tree = { ...debianOpenMpiHost(), '/tmp/spmix_appdir_4242_77.0': 'dir', '/opt/fabric': 'dir' };
    const env = { SLURM_JOB_ID: '77', SLURM_STEP_ID: '0', SIF_MPI_BIND: '/nowhere' };
    const p = plan(['/opt/mpi/hello'], { host, env, site: 'mpi bind = /opt/fabric\nmpi env = UCX_TLS=sm,self\n', req: { contain: true } });
    expect(p.ops.filter((o) => o.op === 'bind' && !o.readonly).map((o) => o.dst)).toEqual([
      '/dev/shm', '/dev/infiniband', '/dev/hfi1_0', '/tmp/spmix_appdir_4242_77.0', '/run/munge', '/opt/fabric',
    ]);
    expect(p.env).toEqual({ UCX_TLS: 'sm,self' });
    expect(p.warnings).toContain('--mpi: SIF_MPI_BIND names /nowhere, which does not exist on this host: not bound');
  });

  it('--cleanenv: the launcher and interconnect variables pass, without overriding the container', () => {
    const env = { PMIX_RANK: '0', UCX_TLS: 'rc', FI_PROVIDER: 'tcp', OMPI_MCA_btl: '^openib', HOME: '/x', OTHER: 'y' };
    const req = request(['/opt/mpi/hello'], { cleanenv: true }, { FI_PROVIDER: 'shm' });
    const p = planMpi(req, { host: fakeMpiHost(debianOpenMpiHost(), { env }), image: fakeImage(debianImage()) });
    expect(p.env).toEqual({ PMIX_RANK: '0', UCX_TLS: 'rc', OMPI_MCA_btl: '^openib' });
  });
});

describe('planMpi: MPI loaded at run time (mpi4py, dlopen)', () => {
  const python = (extra: Tree = {}): Tree => ({ ...debianImage(36, {}), '/usr/bin/python3': so({ type: 'executable', interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libc.so.6'] }), ...extra });
  // Debian's python3-mpi4py: its extension module needs libmpi.so.40, which libopenmpi3 puts in the image.
  const mpi4py = {
    '/usr/lib/python3/dist-packages/mpi4py/MPI.cpython-311-x86_64-linux-gnu.so': so({ soname: undefined, needed: ['libmpi.so.40', 'libc.so.6'] }),
    '/usr/lib/x86_64-linux-gnu/libmpi.so.40': so({ soname: 'libmpi.so.40', needed: ['libc.so.6'] }),
  };
  const mpichPy = {
    '/usr/lib/x86_64-linux-gnu/libmpich.so.12': so({ soname: 'libmpich.so.12', needed: ['libc.so.6'] }),
  };
  // A program that dlopens an MPI-linked module shipped beside it.
  const plugin = (needed: string): Tree => ({
    ...debianImage(36, { '/opt/app/dlhello': ['libc.so.6'] }),
    '/opt/app/hello-module.so': so({ needed: [needed, 'libc.so.6'] }),
    '/opt/app/README.so.txt': 'file',
  });

  it("python3 with the image's Open MPI (Debian's mpi4py): compatible with the host's, noted", () => {
    const p = plan(['python3'], { image: python(mpi4py) });
    expect(p.refusal).toBeUndefined();
    expect(p.warnings).toEqual([]);
    expect(p.notes).toContain(
      "it loads no MPI library itself; the image's own libmpi.so.40 at /usr/lib/x86_64-linux-gnu/libmpi.so.40 (what its programs and modules load at run time) and the host's libmpi.so.40 are both Open MPI 3.0 or later: compatible, the host's comes first",
    );
  });

  it("python3 with an image built for MPICH, on an Open MPI host: a warning naming both, bound anyway", () => {
    const p = plan(['python3'], { image: python(mpichPy) });
    expect(p.refusal).toBeUndefined();
    expect(p.warnings).toEqual([expect.stringMatching(/^--mpi: \/usr\/bin\/python3 \(in the image\) loads no MPI library itself, and the image's own MPI \(libmpich\.so\.12 at \/usr\/lib\/x86_64-linux-gnu\/libmpich\.so\.12, the MPICH ABI.*\) is not of the host's family \(libmpi\.so\.40, Open MPI 3\.0 or later\)/)]);
  });

  it("the image's MPI family chooses among the host's MPIs", () => {
    const host: Tree = { ...debianOpenMpiHost(), [`${L}/libmpich.so.12`]: so({ soname: 'libmpich.so.12', needed: ['libhwloc.so.15', 'libc.so.6'] }) };
    expect(plan(['python3'], { host, image: python(mpichPy) }).host).toMatchObject({ soname: 'libmpich.so.12' });
  });

  it('python3 in an image without MPI: a warning that nothing could be checked', () => {
    const p = plan(['python3'], { image: python() });
    expect(p.refusal).toBeUndefined();
    expect(p.warnings).toEqual([expect.stringMatching(/^--mpi: \/usr\/bin\/python3 \(in the image\) loads no MPI library itself, nor do modules beside it, and the image holds none: .*not checked.*bound anyway$/)]);
  });

  it('a module beside the program that needs Open MPI: checked as the program\'s own need', () => {
    const p = plan(['/opt/app/dlhello'], { image: plugin('libmpi.so.40') });
    expect(p.refusal).toBeUndefined();
    expect(p.notes).toEqual(expect.arrayContaining([
      'it loads no MPI library itself; modules beside it do (hello-module.so): checked as its own',
      'hello-module.so needs libmpi.so.40 (Open MPI 3.0 or later); the image has none',
      expect.stringMatching(/^ABI: libmpi\.so\.40 and the host's libmpi\.so\.40 are both Open MPI/),
    ]));
  });

  it('a module beside the program that needs MPICH, on an Open MPI host: refused, naming the module', () => {
    const p = plan(['/opt/app/dlhello'], { image: plugin('libmpich.so.12') });
    expect(p.refusal?.code).toBe('SIF_E_MPI_ABI');
    expect(p.refusal?.message).toMatch(/^--mpi: \/opt\/app\/hello-module\.so \(beside \/opt\/app\/dlhello, loaded at run time\) needs libmpich\.so\.12 \(the MPICH ABI/);
  });

  it('does not read what lies beside a program in a system directory', () => {
    const image = { ...python(), '/usr/bin/libfoo.so': so({ needed: ['libmpich.so.12'] }) };
    const img = fakeImage(image);
    planMpi(request(['python3']), { host: fakeMpiHost(debianOpenMpiHost()), image: img });
    expect(img.reads).not.toContain('/usr/bin/libfoo.so');
  });
});
