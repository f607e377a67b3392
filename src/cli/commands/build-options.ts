/** Options of `sif build` and `sif pull` that are not about registries. */
import { SifError } from '../../errors.js';
import type { SquashfsCompressor } from '../../image/squashfs-writer.js';

export const BUILD_FLAGS = {
  force: { alias: 'F', type: 'boolean', describe: 'overwrite OUT if it exists' },
  compress: {
    type: 'string',
    default: 'zstd',
    describe: 'squashfs compression: gzip|xz|lz4|zstd[:LEVEL]; zstd is level 3 unless given (zstd:19 for the smallest file, gzip for kernels or tools without zstd)',
  },
} as const;

/** `zstd`, `zstd:3`, `gzip:9`, `lz4`: the writer checks each compressor's level range. */
export function parseCompress(text: string): { compressor: SquashfsCompressor; level?: number } {
  const m = /^(gzip|xz|lz4|zstd)(?::(\d+))?$/.exec(text);
  if (!m)
    throw new SifError('SIF_E_USAGE', `--compress ${JSON.stringify(text)} is not one of gzip, xz, lz4, zstd with an optional :LEVEL`, {
      hint: 'e.g. --compress zstd:3 or --compress gzip',
    });
  return { compressor: m[1] as SquashfsCompressor, ...(m[2] === undefined ? {} : { level: Number(m[2]) }) };
}

/** SOURCE_DATE_EPOCH, as reproducible-builds.org defines it, or undefined. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new SifError('SIF_E_USAGE', `SOURCE_DATE_EPOCH=${raw} is not a number of seconds`);
  return Number(raw);
}

/** Apptainer's default pull name: the last path component and the tag, `python_3.12-slim.sif`. */
export function defaultPullName(ref: string): string {
  const noDigest = ref.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const last = noDigest.slice(slash + 1);
  const colon = last.lastIndexOf(':');
  const name = colon >= 0 ? last.slice(0, colon) : last;
  const tag = colon >= 0 ? last.slice(colon + 1) : ref.includes('@') ? ref.split('@')[1]!.replace(/^sha256:/, '').slice(0, 12) : 'latest';
  return `${name}_${tag}.sif`;
}
