// A bounded mutation fuzz run over the fixtures: whatever the bytes, the reader returns
// facts or throws a SifError; nothing else escapes. Seeded, so a failure replays.
import { SifError } from '../../../../src/errors.js';
import { readElfBuffer } from '../../../../src/host/elf/read-elf.js';
import { fixture, prng } from './elf-fixtures.js';

const NAMES = ['libbase.so.1', 'libmid.so.2', 'libtop.so', 'app', 'libc.so.6', 'libbase-i386.so.1'];
const BUDGET_MS = 2500;
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff];

function mutate(input: Buffer, next: () => number): Buffer {
  const b = Buffer.from(input);
  const edits = 1 + (next() % 4);
  for (let i = 0; i < edits; i++) {
    const at = next() % b.length;
    switch (next() % 4) {
      case 0:
        b[at] = next() & 0xff;
        break;
      case 1:
        // Headers and tables hold 4- and 8-byte fields: overwrite one with an edge value.
        if (at + 4 <= b.length) b.writeUInt32LE(INTERESTING[next() % INTERESTING.length]! >>> 0, at & ~3);
        break;
      case 2:
        if (at + 8 <= b.length) b.writeBigUInt64LE(BigInt(next()) * BigInt(1 + (next() % 0xffff)), at & ~7);
        break;
      default:
        return b.subarray(0, at);
    }
  }
  return b;
}

describe('readElf under mutation', () => {
  it(`throws only SifError (${BUDGET_MS} ms of mutated fixtures)`, () => {
    const inputs = NAMES.map((n) => fixture(n));
    const seed = Number(process.env.SIF_FUZZ_SEED ?? 20261202);
    const next = prng(seed);
    const start = Date.now();
    let runs = 0;
    let parsed = 0;
    let refused = 0;
    while (Date.now() - start < BUDGET_MS && runs < 200_000) {
      const input = mutate(inputs[runs % inputs.length]!, next);
      runs++;
      try {
        readElfBuffer(input, 'fuzz');
        parsed++;
      } catch (e) {
        if (!(e instanceof SifError)) throw new Error(`seed ${seed}, run ${runs}: ${String(e)}`, { cause: e });
        expect(e.code).toBe('SIF_E_ELF_INVALID');
        refused++;
      }
    }
    // Both outcomes must occur, or the mutations are not reaching the parser.
    expect(parsed).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
    console.log(`elf fuzz: ${runs} runs, ${parsed} read, ${refused} refused`);
  });
});
