// The CLI's progress bars (src/cli/progress.ts), fed by the registry source's onProgress.
import { PassThrough } from 'node:stream';
import { ProgressBars, formatBytes, progressLine } from '../../../../src/cli/progress.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('progress bars', () => {
  it('formats sizes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(68851957)).toBe('65.7 MiB');
  });

  it('draws a bar that fits the terminal', () => {
    const line = progressLine({ index: 0, digest: D, total: 1000, done: 500, state: 'downloading' }, 80);
    expect(line).toBe(`sha256:abababababab [${'#'.repeat(15)}${'.'.repeat(15)}] 500 B/1000 B downloading`);
    expect(progressLine({ index: 0, digest: D, total: 1000, done: 500, state: 'downloading' }, 30)).toBe('sha256:abababababab downloadin');
    expect(progressLine({ index: 0, digest: D, total: 0, done: 0, state: 'cached' }, 60)).toContain('cached');
  });

  it('prints nothing when stderr is no terminal', async () => {
    const out = new PassThrough();
    let written = '';
    out.on('data', (c) => (written += String(c)));
    const bars = new ProgressBars(out as unknown as NodeJS.WriteStream);
    bars.update({ index: 0, digest: D, total: 10, done: 5, state: 'downloading' });
    bars.done();
    await new Promise((r) => setTimeout(r, 150));
    expect(written).toBe('');
  });

  it('redraws in place on a terminal, top layer first', () => {
    const out = new PassThrough();
    let written = '';
    out.on('data', (c) => (written += String(c)));
    const bars = new ProgressBars(Object.assign(out, { columns: 100 }) as unknown as NodeJS.WriteStream, true);
    bars.update({ index: 0, digest: D, total: 10, done: 10, state: 'done' });
    bars.update({ index: 1, digest: `sha256:${'cd'.repeat(32)}`, total: 10, done: 2, state: 'downloading' });
    bars.done();
    const lines = written.split('\n');
    expect(lines[0]).toContain('sha256:cdcdcdcdcdcd');
    expect(lines[1]).toContain('sha256:abababababab');
    expect(lines[1]).toContain('done');
    bars.done();
  });
});
