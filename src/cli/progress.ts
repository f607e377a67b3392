/**
 * A build's progress on a terminal (stderr), redrawn in place at most ten times a
 * second: a bar per layer download (registry sources), then one line for the build
 * itself: merging and compressing the layers, finishing the squashfs, writing the
 * SIF. Off a terminal (batch jobs, logs), with --quiet or --log-format json, it
 * prints nothing. Log lines step around it (logger.ts's live display).
 */
import type { LayerProgress } from '../build/registry/layer-downloads.js';
import type { BuildStage, StageInfo } from '../build/build-sif.js';
import { logs, logsJson, setLiveDisplay } from './logger.js';

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

/** `label [#####.....] amount state`, the bar as wide as fits (at most 30), or `label state` when none fits. */
function barLine(label: string, done: number, total: number, amount: string, state: string, width: number): string {
  const barWidth = Math.max(0, Math.min(30, width - label.length - amount.length - state.length - 6));
  if (barWidth < 5) return `${label} ${state}`.slice(0, width);
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * barWidth) : barWidth;
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${amount} ${state}`;
}

/** One line: `sha256:0123456789ab [#####.....] 12.3/45.6 MiB downloading`, fit to `width`. */
export function progressLine(p: LayerProgress, width: number): string {
  const state = p.state === 'done' && p.done === p.total ? 'done' : WORDS[p.state];
  return barLine(p.digest.slice(0, 19), p.done, p.total, `${formatBytes(p.done)}/${formatBytes(p.total)}`, state, width);
}

/** Where the build is, past the downloads. */
export interface BuildState {
  stage: BuildStage;
  /** Layer bytes read so far by the merge, of `total` (0 when the sizes are unknown: a directory). */
  done: number;
  total: number;
  /** The layer being read (1-based, bottom first) and how many there are. */
  layer: number;
  layers: number;
}

/** The build's line: `merge and compress [###...] 12.3 MiB/45.6 MiB layer 2/5`, `finish squashfs`, `write SIF [###...] ...`. */
export function stageLine(s: BuildState, width: number): string {
  const amount = s.total > 0 ? `${formatBytes(s.done)}/${formatBytes(s.total)}` : formatBytes(s.done);
  switch (s.stage) {
    case 'merge':
            // `layer` counts from the bottom; the merge reads the top one first.
      return barLine('merge and compress', s.done, s.total, amount, s.layer ? `layer ${s.layer}/${s.layers}` : s.layers ? `${s.layers} layers` : '', width).trimEnd();
    case 'compress':
      return 'finish squashfs (compressing the last blocks)'.slice(0, width);
    case 'write':
      return barLine('write SIF', s.done, s.total, amount, '', width).trimEnd();
  }
}

export class ProgressBars {
  private readonly layers = new Map<number, LayerProgress>();
  private build: BuildState | undefined;
  /** Layer bytes read by the merge, by layer index. */
  private readonly merged = new Map<number, number>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = stream.isTTY === true && logs('warn') && !logsJson(),
  ) {
    if (this.enabled) setLiveDisplay({ clear: () => this.clear(), redraw: () => this.draw() });
  }

  /** Feed for RegistryImageOptions.onProgress. */
  update(p: LayerProgress): void {
    if (!this.enabled || this.finished) return;
    this.layers.set(p.index, p);
    this.schedule();
  }

  /** Feed for BuildImageRequest.onStage: the build moved on; `done`/`total` are bytes (of the layers, or of the SIF). */
  stage(stage: BuildStage, info: StageInfo): void {
    if (!this.enabled || this.finished) return;
    const moved = this.build?.stage !== stage;
    this.build = { stage, done: info.done, total: info.total, layer: 0, layers: info.layers ?? 0 };
    if (moved) this.merged.clear();
    // Each stage is drawn as it starts (there are three), however short it is.
    if (moved) this.draw();
    else this.schedule();
  }

  /** Feed for BuildImageRequest.onLayer: the merge has read `done` bytes of layer `index` (0 = bottom). */
  layer(index: number, done: number): void {
    if (!this.enabled || this.finished || this.build?.stage !== 'merge') return;
    this.merged.set(index, done);
    let sum = 0;
    for (const n of this.merged.values()) sum += n;
    this.build = { ...this.build, done: sum, layer: index + 1 };
    this.schedule();
  }

  /** Draws the final state and stops; call before printing anything else. Safe to call twice. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.enabled) {
      setLiveDisplay(undefined);
      this.draw();
    }
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => this.draw(), REDRAW_MS);
  }

  private lines(): string[] {
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    // Top layer first, the order they download in.
    const lines = [...this.layers.values()].sort((a, b) => b.index - a.index).map((p) => progressLine(p, width));
    if (this.build) lines.push(stageLine(this.build, width));
    return lines;
  }

  /** Takes the drawn lines off the screen (a log line is about to be written). */
  private clear(): void {
    if (this.drawn) this.stream.write(`\x1b[${this.drawn}A\r\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.lines();
    if (!lines.length) return;
    let out = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const l of lines) out += `\r\x1b[2K${l}\n`;
    this.stream.write(out);
    this.drawn = lines.length;
  }
}
