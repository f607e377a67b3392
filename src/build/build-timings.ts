/**
 * Where a build's time goes, for `SIF_BUILD_TIMINGS=1 sif build ...` and the build
 * benchmark. First the source is opened (manifest and config). The stages overlap (downloads run beside the merge, compression on the
 * writer's threads), so the merge's thread is the reference: its wall time splits into
 * waiting for a layer's blob (until its download begins: digests are checked as it streams),
 * waiting for layer bytes (file reads and inflating), waiting for the squashfs writer
 * (compression) and the rest, its own work (tar parsing, flattening). Downloads are
 * timed from the first request to the last byte; sha256 digests wherever they run.
 *
 * Off by default: then each probe costs one property read.
 */
export type Stage = 'source' | 'blobs' | 'inflate' | 'compress' | 'merge' | 'digest' | 'finish';

export interface StageTotals {
  /** Opening the source: the registry's manifest and config (or the layout's, the archive's). */
  source: number;
  /** First request to last byte, beside the merge (0: every blob was cached). */
  download: number;
  /** Merge thread: waiting for layer blobs (their downloads to begin). */
  blobs: number;
  /** Merge thread: waiting for inflated layer bytes. */
  inflate: number;
  /** Merge thread: waiting for the squashfs writer. */
  compress: number;
  /** Merge thread: its own work. */
  merge: number;
  /** sha256 over the blobs, on whichever of the above it ran. */
  digest: number;
  /** The writer's last blocks and tables, and the SIF around them. */
  finish: number;
}

export class BuildTimings {
  on = false;
  private readonly ms = new Map<Stage, number>();
  private downloadFrom = Infinity;
  private downloadTo = 0;

  /** Adds the time since `t0` (a performance.now() value) to `stage`. */
  add(stage: Stage, t0: number): void {
    this.ms.set(stage, (this.ms.get(stage) ?? 0) + performance.now() - t0);
  }

  /** Milliseconds counted for `stage` so far. */
  spent(stage: Stage): number {
    return this.ms.get(stage) ?? 0;
  }

  /** A download that ran from `t0` until now. */
  download(t0: number): void {
    this.downloadFrom = Math.min(this.downloadFrom, t0);
    this.downloadTo = Math.max(this.downloadTo, performance.now());
  }

  /** Milliseconds per stage ('merge' given as the merge's wall time). */
  totals(): StageTotals {
    const get = (s: Stage): number => this.ms.get(s) ?? 0;
    return {
      source: get('source'),
      download: this.downloadTo > 0 ? this.downloadTo - this.downloadFrom : 0,
      blobs: get('blobs'),
      inflate: get('inflate'),
      compress: get('compress'),
      merge: Math.max(0, get('merge') - get('blobs') - get('inflate') - get('compress')),
      digest: get('digest'),
      finish: get('finish'),
    };
  }

  /** One line, seconds: `source 0.20, download 1.20, blobs 0.10, ...`. */
  report(): string {
    return Object.entries(this.totals()).map(([s, ms]) => `${s} ${(ms / 1000).toFixed(2)}`).join(', ');
  }
}

export const buildTimings = new BuildTimings();
