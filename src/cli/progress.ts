/**
 * Per-layer progress bars for pulls, redrawn in place on a terminal (stderr) at
 * most ten times a second. Off a terminal (batch jobs, logs) it prints nothing.
 */
import type { LayerProgress } from '../build/registry/layer-downloads.js';

const REDRAW_MS = 100;

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

const WORDS: Record<LayerProgress['state'], string> = {
  queued: 'waiting', cached: 'cached', downloading: 'downloading', done: 'done', failed: 'failed',
};

/** One line: `sha256:0123456789ab [#####.....] 12.3/45.6 MiB downloading`, fit to `width`. */
export function progressLine(p: LayerProgress, width: number): string {
  const id = p.digest.slice(0, 19);
  const state = p.state === 'done' && p.done === p.total ? 'done' : WORDS[p.state];
  const amount = `${formatBytes(p.done)}/${formatBytes(p.total)}`;
  const barWidth = Math.max(0, Math.min(30, width - id.length - amount.length - state.length - 6));
  if (barWidth < 5) return `${id} ${state}`.slice(0, width);
  const filled = p.total > 0 ? Math.round((Math.min(p.done, p.total) / p.total) * barWidth) : barWidth;
  return `${id} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${amount} ${state}`;
}

export class ProgressBars {
  private readonly layers = new Map<number, LayerProgress>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly enabled = stream.isTTY === true) {}

  /** Feed for RegistryImageOptions.onProgress. */
  update(p: LayerProgress): void {
    if (!this.enabled || this.finished) return;
    this.layers.set(p.index, p);
    this.timer ??= setTimeout(() => this.draw(), REDRAW_MS);
  }

  /** Draws the final state and stops; call before printing anything else. Safe to call twice. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.enabled && this.layers.size) this.draw();
  }

  private draw(): void {
    this.timer = undefined;
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    // Top layer first, the order they download in.
    const lines = [...this.layers.values()].sort((a, b) => b.index - a.index).map((p) => progressLine(p, width));
    let out = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const l of lines) out += `\r\x1b[2K${l}\n`;
    this.stream.write(out);
    this.drawn = lines.length;
  }
}
