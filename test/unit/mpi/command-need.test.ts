import { searchDefaults } from '../../../src/host/elf/search-defaults.js';
import { type CommandContext, commandNeed } from '../../../src/mpi/command-need.js';
import { debianImage, fakeImage, so } from './fake-mpi.js';

const defaults = searchDefaults(62, 64, true);
const noHost = { isFile: () => false, elfInfo: () => so({}) };
const ctx = (argv: string[], env: Record<string, string> = {}): CommandContext => ({ argv, env: { PATH: '/opt/app/bin:/usr/bin', ...env }, cwd: '/home/a', hostPathOf: () => undefined });

describe('commandNeed', () => {
  const image = {
    ...debianImage(36, {}),
    '/opt/app/bin/solver': so({ type: 'executable', needed: ['libsolver.so.1', 'libc.so.6'], runpath: '$ORIGIN/../lib' }),
    '/opt/app/lib/libsolver.so.1': so({ soname: 'libsolver.so.1', needed: ['libmpi_mpifh.so.40', 'libmpi.so.40', 'libgfortran.so.5'] }),
    '/usr/lib/x86_64-linux-gnu/libmpi.so.40': so({ soname: 'libmpi.so.40' }),
  };

  it("finds the program on the container's PATH and the MPI libraries its own libraries need", () => {
    const img = fakeImage(image);
    const need = commandNeed(ctx(['solver']), img, noHost, defaults);
    expect(need.program).toMatchObject({ path: '/opt/app/bin/solver', where: 'image' });
    expect(need.mpi).toEqual([
      { name: 'libmpi_mpifh.so.40', family: 'openmpi', neededBy: '/opt/app/bin/../lib/libsolver.so.1' },
      { name: 'libmpi.so.40', family: 'openmpi', neededBy: '/opt/app/bin/../lib/libsolver.so.1', inImage: '/usr/lib/x86_64-linux-gnu/libmpi.so.40' },
    ]);
    expect(need.missing).toEqual(['libgfortran.so.5']);
    // The image's MPI library and C library are not read: their names are enough.
    expect(img.reads).toEqual(['/opt/app/bin/solver', '/opt/app/bin/../lib/libsolver.so.1']);
  });

  it('a relative command is looked for from the working directory; a missing one is said', () => {
    expect(commandNeed({ ...ctx(['../../opt/app/bin/solver']) }, fakeImage(image), noHost, defaults).program?.path).toBe('/opt/app/bin/solver');
    expect(commandNeed(ctx(['nope']), fakeImage(image), noHost, defaults).unreadable).toBe("nope is not on the container's PATH (/opt/app/bin:/usr/bin)");
    expect(commandNeed(ctx([]), fakeImage(image), noHost, defaults).unreadable).toBe('no command');
  });
});
