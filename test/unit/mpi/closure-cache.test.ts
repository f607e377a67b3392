import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedHostClosure } from '../../../src/mpi/closure-cache.js';
import type { HostClosure } from '../../../src/mpi/host-closure.js';

describe('cachedHostClosure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sif-closure-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('computes once, reuses while nothing changed, computes again when a bound file changes', () => {
    const lib = join(dir, 'libmpi.so.40');
    writeFileSync(lib, 'one');
    const closure: HostClosure = { libraries: [{ src: lib, name: 'libmpi.so.40' }], objects: [], dirs: [], notes: [], warnings: [] };
    let computed = 0;
    const run = () => cachedHostClosure([{ path: lib, names: ['libmpi.so.40'] }], { XDG_RUNTIME_DIR: dir }, process.getuid!(), () => (computed++, closure));
    expect(run().libraries).toEqual(closure.libraries);
    expect(run().notes).toEqual([expect.stringMatching(/^host closure from .*\/sif\/mpi-closure-[0-9a-f]+\.json/)]);
    expect(computed).toBe(1);
    writeFileSync(lib, 'changed');
    run();
    expect(computed).toBe(2);
  });

  it('computes without a cache where the directory cannot be made', () => {
    let computed = 0;
    cachedHostClosure([], { XDG_RUNTIME_DIR: '/proc' }, 0, () => (computed++, { libraries: [], objects: [], dirs: [], notes: [], warnings: [] }));
    expect(computed).toBe(1);
  });
});
