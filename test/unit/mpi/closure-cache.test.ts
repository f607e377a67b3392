import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRecord } from '../../../src/host/host-record.js';
import { cachedHostClosure } from '../../../src/mpi/closure-cache.js';
import { fakeMpiHost, so } from './fake-mpi.js';

describe('cachedHostClosure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sif-closure-'));
  // The libraries live beside it: writing an entry must not change what they are stamped by.
  const cache = join(dir, 'cache');
  mkdirSync(cache, { mode: 0o700 });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('computes once, reuses while nothing it read changed, computes again when a file it read changes', () => {
    // A fake host whose library path is a real file: its identity is what the cache stamps.
    const lib = join(dir, 'libmpi.so.40');
    writeFileSync(lib, 'one');
    const host = fakeMpiHost({ [lib]: so({ soname: 'libmpi.so.40', needed: ['libc.so.6'] }) });
    const run = () => cachedHostClosure([{ path: lib, names: ['libmpi.so.40'] }], host, process.getuid!(), cache);
    const computedInto = emptyRecord();
    const first = cachedHostClosure([{ path: lib, names: ['libmpi.so.40'] }], host, process.getuid!(), cache, computedInto);
    expect(first.libraries).toEqual([{ src: lib, name: 'libmpi.so.40' }]);
    // Computed, what it read is handed on too (a plan kept with it depends on it).
    expect(computedInto.paths.has(lib)).toBe(true);
    const perComputation = host.reads.length;
    expect(perComputation).toBeGreaterThan(0);
    const into = emptyRecord();
    const second = cachedHostClosure([{ path: lib, names: ['libmpi.so.40'] }], host, process.getuid!(), cache, into);
    expect(second.notes).toEqual([expect.stringMatching(/^host closure from .*\/mpi-closure-[0-9a-f]+\.json/)]);
    expect(host.reads.length).toBe(perComputation);
    // What the kept entry depends on is handed on.
    expect(into.paths.has(lib)).toBe(true);
    expect([...into.vars.keys()]).toContain('LD_LIBRARY_PATH');
    writeFileSync(lib, 'changed');
    run();
    expect(host.reads.length).toBe(2 * perComputation);
  });

  it('computes again when a variable it looked up changed (module load sets LD_LIBRARY_PATH)', () => {
    const lib = join(dir, 'libmpi.so.12');
    writeFileSync(lib, 'x');
    const tree = { [lib]: so({ soname: 'libmpi.so.12', needed: ['libc.so.6'] }) };
    const a = fakeMpiHost(tree, { env: { LD_LIBRARY_PATH: '/opt/a' } });
    const b = fakeMpiHost(tree, { env: { LD_LIBRARY_PATH: '/opt/b' } });
    cachedHostClosure([{ path: lib, names: ['libmpi.so.12'] }], a, process.getuid!(), cache);
    cachedHostClosure([{ path: lib, names: ['libmpi.so.12'] }], b, process.getuid!(), cache);
    expect(b.reads.length).toBe(a.reads.length);
    expect(b.reads.length).toBeGreaterThan(0);
  });

  it('computes without a cache where there is no cache directory', () => {
    const host = fakeMpiHost({ '/l/libmpi.so.40': so({ soname: 'libmpi.so.40' }) });
    cachedHostClosure([{ path: '/l/libmpi.so.40', names: ['libmpi.so.40'] }], host, 0, undefined);
    const once = host.reads.length;
    cachedHostClosure([{ path: '/l/libmpi.so.40', names: ['libmpi.so.40'] }], host, 0, undefined);
    expect(host.reads.length).toBe(2 * once);
  });
});
