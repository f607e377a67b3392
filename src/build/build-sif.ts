/**
 * The build pipeline: layers (bottom first) merged top-down into a squashfs, then
 * the SIF assembled around it. The squashfs is written next to the output under a
 * temporary name and removed afterwards; the SIF itself is written to a temporary
 * name and renamed, so OUT is either the complete image or untouched.
 */
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SifError } from '../errors.js';
import { buildApptainerObjects, writeSif } from '../image/sif-writer.js';
import { INSPECT_METADATA_NAME, OCI_CONFIG_NAME } from '../image/sif-objects.js';
import { SquashfsWriter, type SquashfsCompressor, type SquashfsStats } from '../image/squashfs-writer.js';
import type { OciConfigFile } from './image-source.js';
import { mergeLayers, type MergeLayer, type MergeStats } from './merge/merge-layers.js';
import { inspectMetadata, type SyntheticEntry } from './singularity-d.js';
import { syntheticLayer } from './synthetic-layer.js';
import { buildTimings } from './build-timings.js';

export interface SifBuildInput {
  output: string;
  /** The image's layers, bottom first. */
  layers: MergeLayer[];
  config: OciConfigFile;
  /** Go/OCI arch name recorded in the SIF. */
  arch: string;
  deffile: string;
  labels: Record<string, string>;
  /** Placed over the image (they win) and under it (used only where the image has nothing). */
  over: SyntheticEntry[];
  under: SyntheticEntry[];
  compressor?: SquashfsCompressor;
  level?: number;
  /** SOURCE_DATE_EPOCH: fixed times and a nil SIF id, for reproducible images. */
  sourceDateEpoch?: number;
  signal?: AbortSignal;
  warn?(message: string): void;
  onLayer?(index: number, bytesRead: number): void;
  onStage?(stage: BuildStage, info: StageInfo): void;
}

/** What a build is doing, after the downloads: for progress displays. */
export type BuildStage = 'merge' | 'compress' | 'write';
export interface StageInfo {
  /** Bytes done and in all: the layers' stored bytes (merge, 0 when unknown), the SIF's (write). */
  done: number;
  total: number;
  /** Layers to merge. */
  layers?: number;
}

export interface SifBuildResult {
  path: string;
  fileSize: number;
  merge: MergeStats;
  squashfs: SquashfsStats;
}

export function tempSquashfsPath(output: string): string {
  return join(dirname(output), `.${basename(output)}.${process.pid}.${randomBytes(4).toString('hex')}.rootfs`);
}

export async function buildSif(input: SifBuildInput): Promise<SifBuildResult> {
  const mtime = new Date((input.sourceDateEpoch ?? Math.floor(Date.now() / 1000)) * 1000);
  const [under, over] = await Promise.all([
    syntheticLayer('sif: mount points', input.under, mtime),
    syntheticLayer('sif: /.singularity.d', input.over, mtime),
  ]);
  const rootfs = tempSquashfsPath(input.output);
  const writer = await SquashfsWriter.create(rootfs, {
    compressor: input.compressor ?? 'zstd',
    ...(input.level === undefined ? {} : { level: input.level }),
    mtime: mtime.getTime() / 1000,
    durable: false, // copied into the SIF, which is synced, then removed
  });
  try {
    const merged = performance.now();
    input.onStage?.('merge', { done: 0, total: input.layers.reduce((n, l) => n + (l.size ?? 0), 0), layers: input.layers.length });
    const merge = await mergeLayers([under, ...input.layers, over], writer, {
      ...(input.signal ? { signal: input.signal } : {}),
      ...(input.warn ? { warn: input.warn } : {}),
      // Positions 0 and last are sif's own layers (mount points, /.singularity.d): not the image's.
      ...(input.onLayer ? { onProgress: (i: number, n: number) => i >= 1 && i <= input.layers.length && input.onLayer!(i - 1, n) } : {}),
    });
    if (buildTimings.on) buildTimings.add('merge', merged);
    input.signal?.throwIfAborted();
    const finished = performance.now();
    input.onStage?.('compress', { done: 0, total: 0 });
    const squashfs = await writer.finish();
    input.signal?.throwIfAborted();
    const objects = buildApptainerObjects({
      deffile: input.deffile,
      json: {
        [INSPECT_METADATA_NAME]: inspectMetadata(input.over, input.labels, input.deffile),
        [OCI_CONFIG_NAME]: input.config.config ?? {},
      },
      rootfs: { path: rootfs },
      arch: input.arch,
    });
    const sif = await writeSif(input.output, objects, {
      ...(input.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: input.sourceDateEpoch }),
      ...(input.onStage ? { onProgress: (done: number, total: number) => input.onStage!('write', { done, total }) } : {}),
    });
    if (buildTimings.on) buildTimings.add('finish', finished);
    return { path: sif.path, fileSize: sif.fileSize, merge, squashfs };
  } catch (e) {
    await writer.abort();
    throw buildFailure(e, input.output);
  } finally {
    await unlink(rootfs).catch(() => undefined);
  }
}

/** Names a full disk and an interrupted build plainly; other errors pass through. */
export function buildFailure(e: unknown, output: string): unknown {
  const text = `${e instanceof Error ? e.message : ''} ${(e as NodeJS.ErrnoException)?.code ?? ''}`;
  if (/ENOSPC|No space left on device/.test(text))
    return new SifError('SIF_E_BUILD_NO_SPACE', `no space left on the device holding ${dirname(output)}`, {
      hint: 'free some space or build to another file system; nothing was left behind', cause: e,
    });
  if (e instanceof Error && e.name === 'AbortError')
    return new SifError('SIF_E_BUILD_INTERRUPTED', `build of ${output} interrupted; nothing was written`, { cause: e });
  return e;
}
