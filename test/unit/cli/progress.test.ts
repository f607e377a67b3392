// The build's progress on a terminal (src/cli/progress.ts), with a stand-in stream that
// says it is a terminal: every stage of a build shows, and log lines step around it.
import { jest } from '@jest/globals';
import { configureLogger, logger } from '../../../src/cli/logger.js';
import { ProgressBars, stageLine } from '../../../src/cli/progress.js';

/** A terminal's stderr, as far as ProgressBars looks: isTTY, columns, write. */
function fakeTerminal(): NodeJS.WriteStream & { text(): string } {
  const chunks: string[] = [];
  return {
    isTTY: true,
    columns: 100,
    write: (s: string) => chunks.push(String(s)) > 0,
    text: () => chunks.join(''),
  } as unknown as NodeJS.WriteStream & { text(): string };
}

/** What the terminal shows at the end: each redraw moves up and rewrites its lines. */
function screen(raw: string): string[] {
  const lines: string[] = [];
  let row = 0;
  for (const m of raw.matchAll(/\x1b\[(\d+)A|\x1b\[J|\x1b\[2K|\r|\n|[^\x1b\r\n]+/g)) {
    const t = m[0];
    if (m[1]) row -= Number(m[1]);
    else if (t === '\x1b[J') lines.length = row;
    else if (t === '\n') row++;
    else if (t !== '\r' && t !== '\x1b[2K') lines[row] = t;
  }
  return lines.slice(0, row);
}

const MiB = 1 << 20;

beforeEach(() => configureLogger('warn', false));
afterEach(() => jest.useRealTimers());

describe('stageLine', () => {
  it('shows the merge with its bytes and layer, the squashfs being finished, the SIF being written', () => {
    expect(stageLine({ stage: 'merge', done: 10 * MiB, total: 40 * MiB, layer: 2, layers: 5 }, 100)).toBe(
      `merge and compress [${'#'.repeat(8)}${'.'.repeat(22)}] 10.0 MiB/40.0 MiB layer 2/5`,
    );
    expect(stageLine({ stage: 'merge', done: 3 * MiB, total: 0, layer: 1, layers: 1 }, 100)).toMatch(/^merge and compress \[#+\] 3.00 MiB layer 1\/1$/);
    expect(stageLine({ stage: 'merge', done: 0, total: MiB, layer: 0, layers: 3 }, 100)).toMatch(/ 0 B\/1.00 MiB 3 layers$/);
    expect(stageLine({ stage: 'compress', done: 0, total: 0, layer: 0, layers: 0 }, 100)).toBe('finish squashfs (compressing the last blocks)');
    expect(stageLine({ stage: 'write', done: 5 * MiB, total: 10 * MiB, layer: 0, layers: 0 }, 100)).toBe(
      `write SIF [${'#'.repeat(15)}${'.'.repeat(15)}] 5.00 MiB/10.0 MiB`,
    );
    expect(stageLine({ stage: 'write', done: 5, total: 10, layer: 0, layers: 0 }, 20).length).toBeLessThanOrEqual(20);
  });
});

describe('ProgressBars on a terminal', () => {
  it('shows every stage of a build: downloads, merge and compression, finishing, writing', () => {
    jest.useFakeTimers();
    const tty = fakeTerminal();
    const bars = new ProgressBars(tty);
    bars.update({ index: 0, digest: `sha256:${'ab'.repeat(32)}`, total: MiB, done: MiB, state: 'done' });
    jest.advanceTimersByTime(150);
    bars.stage('merge', { done: 0, total: 3 * MiB, layers: 2 });
    bars.layer(1, MiB);
    jest.advanceTimersByTime(150);
    expect(screen(tty.text()).at(-1)).toMatch(/^merge and compress \[.*\] 1.00 MiB\/3.00 MiB layer 2\/2$/);
    bars.layer(0, 2 * MiB);
    jest.advanceTimersByTime(150);
    expect(screen(tty.text()).at(-1)).toMatch(/3.00 MiB\/3.00 MiB layer 1\/2$/);
    bars.stage('compress', { done: 0, total: 0 });
    expect(screen(tty.text()).at(-1)).toBe('finish squashfs (compressing the last blocks)');
    bars.stage('write', { done: MiB, total: 4 * MiB });
    bars.stage('write', { done: 4 * MiB, total: 4 * MiB });
    bars.done();
    const final = screen(tty.text());
    expect(final).toHaveLength(2);
    expect(final[0]).toMatch(/^sha256:abababababab .* done$/);
    expect(final[1]).toBe(`write SIF [${'#'.repeat(30)}] 4.00 MiB/4.00 MiB`);
  });

  it('takes its lines away for a log line and draws them again below it', () => {
    const tty = fakeTerminal();
    configureLogger('warn', false, tty);
    const bars = new ProgressBars(tty);
    bars.stage('compress', { done: 0, total: 0 });
    logger().warn('layer x: skipping /y');
    bars.done();
    expect(screen(tty.text())).toEqual(['sif: warning: layer x: skipping /y', 'finish squashfs (compressing the last blocks)']);
  });

  it('draws nothing with --quiet or --log-format json', () => {
    for (const [level, json] of [['error', false], ['warn', true]] as const) {
      const tty = fakeTerminal();
      configureLogger(level, json, tty);
      const bars = new ProgressBars(tty);
      bars.stage('compress', { done: 0, total: 0 });
      bars.done();
      expect(tty.text()).toBe('');
    }
  });
});
