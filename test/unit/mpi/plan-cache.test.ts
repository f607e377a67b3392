import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SifError } from '../../../src/errors.js';
import type { CommandContext } from '../../../src/mpi/command-need.js';
import { cachedVerdict } from '../../../src/mpi/plan-cache.js';
import type { MpiPlan } from '../../../src/mpi/plan-mpi.js';
import { fakeMpiHost, so } from './fake-mpi.js';

describe('cachedVerdict: the --mpi verdict kept between starts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sif-plan-cache-'));
  const cache = join(dir, 'cache');
  mkdirSync(cache, { mode: 0o700 });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const uid = process.getuid!();

  const lib = join(dir, 'libmpi.so.40');
  const image = join(dir, 'app.sqfs');
  writeFileSync(lib, 'lib');
  writeFileSync(image, 'image');
  const host = (env: Record<string, string> = {}) => fakeMpiHost({ [lib]: so({ soname: 'libmpi.so.40' }) }, { env });
  const command = (over: Partial<CommandContext> = {}): CommandContext => ({
    argv: ['hello'],
    env: { PATH: '/usr/bin' },
    cwd: '/home/alice',
    hostPathOf: () => undefined,
    ...over,
  });

  let computed = 0;
  let refuse = false;
  // Reads what a plan reads: a host library, a host variable, a container variable, a bind.
  const compute = (c: CommandContext, h: ReturnType<typeof host>): MpiPlan => {
    computed++;
    h.libraries.elfInfo(lib);
    void h.env.SIF_MPI_LIBRARY;
    void c.env.PATH;
    c.hostPathOf('/usr/bin/hello');
    // As findProgram: the working directory matters to a relative command only.
    if (c.argv[0]!.includes('/')) void c.cwd;
    const plan: MpiPlan = { libraries: [{ src: lib, name: 'libmpi.so.40' }], ops: [], env: {}, notes: ['computed'], warnings: [] };
    if (refuse) plan.refusal = new SifError('SIF_E_MPI_ABI', 'no');
    return plan;
  };
  const run = (c = command(), h = host(), as = uid) => cachedVerdict(c, { path: image, rootfsOffset: 0 }, h, as, cache, (cc, hh) => compute(cc, hh as ReturnType<typeof host>));

  beforeEach(() => {
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(cache, { mode: 0o700 });
    computed = 0;
    refuse = false;
  });

  it('computes once, then answers from the cache with the same libraries', () => {
    const first = run();
    const second = run();
    expect(computed).toBe(1);
    expect(second.libraries).toEqual(first.libraries);
    expect(second.notes).toEqual(['computed', expect.stringMatching(/^plan from .*\/mpi-plan-[0-9a-f]{16}\.json /)]);
  });

  it('computes again when a host file it read changed, or the image file did', () => {
    run();
    writeFileSync(lib, 'another lib');
    run();
    expect(computed).toBe(2);
    run();
    expect(computed).toBe(2);
    writeFileSync(image, 'another image');
    run();
    expect(computed).toBe(3);
  });

  it('computes again when a variable or a bind it asked about differs', () => {
    run();
    run(command(), host({ SIF_MPI_LIBRARY: '/opt/mpi/libmpi.so.40' }));
    expect(computed).toBe(2);
    run(command({ env: { PATH: '/opt/bin:/usr/bin' } }));
    expect(computed).toBe(3);
    run(command({ hostPathOf: (p) => (p === '/usr/bin/hello' ? '/home/alice/hello' : undefined) }));
    expect(computed).toBe(4);
    // A variable it never read is no part of the key: ranks differ in SLURM_PROCID.
    run(command({ env: { PATH: '/usr/bin', SLURM_PROCID: '0' } }));
    expect(computed).toBe(5);
    run(command({ env: { PATH: '/usr/bin', SLURM_PROCID: '1' } }));
    expect(computed).toBe(5);
  });

  it('serves every working directory, unless the command is relative to it', () => {
    run(command({ cwd: '/home/alice/a' }));
    run(command({ cwd: '/home/alice/b' }));
    expect(computed).toBe(1);
    run(command({ argv: ['./hello'], cwd: '/home/alice/a' }));
    run(command({ argv: ['./hello'], cwd: '/home/alice/a' }));
    run(command({ argv: ['./hello'], cwd: '/home/alice/b' }));
    expect(computed).toBe(3);
  });

  it('keeps the newest 64 entries', () => {
    for (let i = 0; i < 70; i++) run(command({ argv: [`hello${i}`] }));
    expect(readdirSync(cache).filter((n) => n.startsWith('mpi-plan-'))).toHaveLength(64);
  });

  it('keeps no refusal', () => {
    refuse = true;
    run();
    run();
    expect(computed).toBe(2);
    expect(readdirSync(cache)).toEqual([]);
  });

  it('does not trust an entry others may write, or one another user owns', () => {
    run();
    const [entry] = readdirSync(cache);
    chmodSync(join(cache, entry!), 0o620);
    run();
    expect(computed).toBe(2);
    // The entry just written, read by another user (as if someone else had put it
    // there): the owner is checked against the reader, as any user, root or not.
    run(command(), host(), uid + 1);
    expect(computed).toBe(3);
  });
});
