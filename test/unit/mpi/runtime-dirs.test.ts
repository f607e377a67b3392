import { familyOf, refineFamily, twinName } from '../../../src/mpi/mpi-family.js';
import { runtimeDirs } from '../../../src/mpi/runtime-dirs.js';

/** A host of paths: directories are listed from the files under them. */
function host(paths: string[]) {
  const list = (dir: string) => {
    const names = new Set(paths.filter((p) => p.startsWith(`${dir}/`)).map((p) => p.slice(dir.length + 1).split('/')[0]!));
    return names.size ? [...names] : null;
  };
  return { list, exists: (p: string) => paths.some((x) => x === p || x.startsWith(`${p}/`)) };
}

describe('runtimeDirs', () => {
  it('an Open MPI 5 installed under its own prefix: components beside the library, share and etc above it', () => {
    const h = host([
      '/opt/ompi5/lib/libmpi.so.40.40.0',
      '/opt/ompi5/lib/openmpi/mca_btl_sm.so',
      '/opt/ompi5/lib/pkgconfig/ompi.pc',
      '/opt/ompi5/share/openmpi/help-mpi-api.txt',
      '/opt/ompi5/etc/openmpi-mca-params.conf',
      '/opt/ompi5/lib/libpmix.so.2',
      '/opt/ompi5/lib/pmix/pmix_mca_gds_shmem2.so',
      '/opt/ompi5/share/pmix/help-pmix-runtime.txt',
    ]);
    const dirs = runtimeDirs(
      [
        { name: 'libmpi.so.40', realPath: '/opt/ompi5/lib/libmpi.so.40.40.0', searchDirs: [] },
        { name: 'libopen-pal.so.80', realPath: '/opt/ompi5/lib/libopen-pal.so.80.0.5', searchDirs: [] },
        { name: 'libpmix.so.2', realPath: '/opt/ompi5/lib/libpmix.so.2', searchDirs: [] },
      ],
      h,
    );
    expect(dirs.map((d) => [d.path, d.plugins])).toEqual([
      ['/opt/ompi5/lib/openmpi', true],
      ['/opt/ompi5/share/openmpi', false],
      ['/opt/ompi5/etc/openmpi-mca-params.conf', false],
      ['/opt/ompi5/lib/pmix', true],
      ['/opt/ompi5/share/pmix', false],
    ]);
  });

  it('takes a plugin directory only when it holds shared objects, and a directory once', () => {
    const h = host(['/usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h', '/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/mca_pml_ob1.so', '/usr/lib/x86_64-linux-gnu/ucx/libuct_cma.so.0']);
    const lib = (name: string, runpath: string[] = []) => ({ name, realPath: `/usr/lib/x86_64-linux-gnu/${name}.30`, searchDirs: runpath });
    const dirs = runtimeDirs([lib('libmpi.so.40', ['/usr/lib/x86_64-linux-gnu/openmpi/lib']), lib('libopen-rte.so.40', ['/usr/lib/x86_64-linux-gnu/openmpi/lib']), lib('libucs.so.0')], h);
    expect(dirs.map((d) => d.path)).toEqual(['/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3', '/usr/lib/x86_64-linux-gnu/ucx']);
  });
});

describe('MPI families', () => {
  it('by soname, Open MPI 1.10 told apart from MPICH by its libopen-pal', () => {
    expect(['libmpi.so.40', 'libmpi_mpifh.so.40', 'libmpich.so.12', 'libmpifort.so.12', 'libmpi_abi.so.1', 'libmpi.so.20', 'libz.so.1'].map(familyOf)).toEqual([
      'openmpi', 'openmpi', 'mpich', 'mpich', 'mpi-abi', 'openmpi-2', undefined,
    ]);
    expect(refineFamily('mpich', ['libopen-rte.so.12', 'libopen-pal.so.13'])).toBe('openmpi-1.10');
    expect(refineFamily('mpich', ['libhwloc.so.15'])).toBe('mpich');
    expect(twinName('libmpich.so.12')).toBe('libmpi.so.12');
    expect(twinName('libmpi.so.40')).toBeUndefined();
  });
});
