import { fullCli } from '../../../src/cli/full-cli.js';
import { helpWidth } from '../../../src/cli/help-width.js';

/** The help text yargs would print for `args`, at `width` columns, without printing or exiting. */
function help(args: string[], width: number): Promise<string> {
  return new Promise((resolve, reject) => {
    void fullCli(args, false, width)
      .exitProcess(false)
      .parse(args, {}, (err, _argv, output) => (err ? reject(err) : resolve(output)));
  });
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).sort();

const COMMANDS = ['', 'exec', 'run', 'shell', 'inspect', 'sif', 'sif list', 'build', 'pull', 'cache', 'registry'];

describe('--help', () => {
  // Unwrapped, every word is whole: wrapping may only move words to other lines (a word
  // broken in two, or two words joined, as "causes[boolean]", changes the list).
  it.each(COMMANDS)('of `sif %s` breaks or joins no word at 60 and 100 columns', async (command) => {
    const cmd = command.split(' ').filter(Boolean);
    const whole = words(await help([...cmd, '--help'], 10_000));
    expect(whole.length).toBeGreaterThan(10);
    for (const width of [60, 100]) {
      const text = await help([...cmd, '--help'], width);
      expect(words(text)).toEqual(whole);
      for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(width);
    }
  });

  it('uses the whole width of a wide terminal', async () => {
    const text = await help(['build', '--help'], 200);
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeGreaterThan(100);
  });
});

describe('helpWidth', () => {
  it("is the terminal's width on a terminal, else $COLUMNS, else 80", () => {
    expect(helpWidth({ isTTY: true, columns: 173 }, { COLUMNS: '50' })).toBe(173);
    expect(helpWidth({ isTTY: false }, { COLUMNS: '50' })).toBe(50);
    expect(helpWidth({}, {})).toBe(80);
    expect(helpWidth({}, { COLUMNS: 'wide' })).toBe(80);
  });
});
