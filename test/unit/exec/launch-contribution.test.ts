import { combineContributions, type LaunchContribution, withLibraryDir } from '../../../src/exec/launch-contribution.js';

const part = (over: Partial<LaunchContribution>): LaunchContribution => ({ libraries: [], libraryOrder: 'last', ops: [], env: {}, warnings: [], ...over });

describe('combineContributions', () => {
  const nv = part({ libraries: [{ src: '/usr/lib/libcuda.so.550', name: 'libcuda.so.1' }], ops: [{ op: 'symlink', target: 'libcuda.so.1', dst: '/.singularity.d/libs/libcuda.so' }], warnings: ['w'] });
  const mpi = part({
    libraries: [{ src: '/usr/lib/libmpi.so.40.30.4', name: 'libmpi.so.40' }, { src: '/other/libcuda.so.1', name: 'libcuda.so.1' }],
    libraryOrder: 'first',
    ops: [{ op: 'bind', src: '/etc/openmpi', dst: '/etc/openmpi', readonly: true }],
    env: { X: '1' },
    warnings: ['w'],
  });

  it('makes one tmpfs for the libraries of all, then their binds, then the other operations', () => {
    const c = combineContributions([nv, mpi], { LD_LIBRARY_PATH: '/opt/lib' });
    expect(c.ops).toEqual([
      { op: 'tmpfs', dst: '/.singularity.d/libs', mode: 0o755 },
      { op: 'bind', src: '/usr/lib/libcuda.so.550', dst: '/.singularity.d/libs/libcuda.so.1', readonly: true },
      { op: 'bind', src: '/usr/lib/libmpi.so.40.30.4', dst: '/.singularity.d/libs/libmpi.so.40', readonly: true },
      { op: 'symlink', target: 'libcuda.so.1', dst: '/.singularity.d/libs/libcuda.so' },
      { op: 'bind', src: '/etc/openmpi', dst: '/etc/openmpi', readonly: true },
    ]);
    expect(c.warnings).toEqual(['/.singularity.d/libs/libcuda.so.1: /usr/lib/libcuda.so.550 is bound there, not /other/libcuda.so.1', 'w']);
    // One contribution asking for first place puts the directory first.
    expect(c.env).toEqual({ X: '1', LD_LIBRARY_PATH: '/.singularity.d/libs:/opt/lib' });
    expect(c.librariesFirst).toBe(true);
  });

  it('puts the directory last for --nv alone, once', () => {
    expect(combineContributions([nv], {}).env.LD_LIBRARY_PATH).toBe('/.singularity.d/libs');
    expect(combineContributions([nv], { LD_LIBRARY_PATH: '/a:/.singularity.d/libs' }).env.LD_LIBRARY_PATH).toBeUndefined();
  });

  it('makes nothing when nothing goes into the directory', () => {
    expect(combineContributions([part({ env: { A: 'b' } })], {})).toEqual({ ops: [], env: { A: 'b' }, warnings: [], librariesFirst: false });
  });

  it('moves the directory rather than listing it twice', () => {
    expect(withLibraryDir('/a:/.singularity.d/libs:/b', true)).toBe('/.singularity.d/libs:/a:/b');
    expect(withLibraryDir(undefined, false)).toBe('/.singularity.d/libs');
  });

  it('places a directory asked to follow it right after it (--compat32), first or last', () => {
    const nv32 = { ...nv, libraryDirsAfter: ['/.singularity.d/libs32'] };
    expect(combineContributions([nv32], { LD_LIBRARY_PATH: '/a:/.singularity.d/libs' }).env.LD_LIBRARY_PATH).toBe('/a:/.singularity.d/libs:/.singularity.d/libs32');
    expect(combineContributions([nv32, mpi], { LD_LIBRARY_PATH: '/a' }).env.LD_LIBRARY_PATH).toBe('/.singularity.d/libs:/.singularity.d/libs32:/a');
    expect(withLibraryDir('/.singularity.d/libs32:/a', false, ['/.singularity.d/libs32'])).toBe('/a:/.singularity.d/libs:/.singularity.d/libs32');
  });
});
