/**
 * Checks bytes against an OCI digest as they stream past: the stream fails at its
 * end (SIF_E_BUILD_DIGEST) when the digest or the size does not match, so nothing
 * built from unverified bytes is ever kept.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { SifError } from '../../errors.js';
import { buildTimings } from '../build-timings.js';

const DIGEST = /^(sha256|sha512):([a-f0-9]+)$/;

export function parseDigest(digest: string, where: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  const m = DIGEST.exec(digest);
  const len = m?.[1] === 'sha256' ? 64 : 128;
  if (!m || m[2]!.length !== len)
    throw new SifError('SIF_E_BUILD_SOURCE', `${where}: ${JSON.stringify(digest)} is not a valid sha256 or sha512 digest`);
  return { algorithm: m[1] as 'sha256' | 'sha512', hex: m[2]! };
}

export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Throws unless `bytes` have `digest` (and `size`, when given). */
export function verifyBytes(bytes: Uint8Array, digest: string, size: number | undefined, where: string): void {
  const { algorithm } = parseDigest(digest, where);
  if (size !== undefined && bytes.length !== size) throw mismatch(where, `${bytes.length} bytes, the descriptor says ${size}`);
  const got = digestOf(bytes, algorithm);
  if (got !== digest) throw mismatch(where, `its digest is ${got}, expected ${digest}`);
}

export function verifyingStream(digest: string, size: number | undefined, where: string): Transform {
  const { algorithm } = parseDigest(digest, where);
  const hash = createHash(algorithm);
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const t0 = buildTimings.on ? performance.now() : 0;
      hash.update(chunk);
      if (t0) buildTimings.add('digest', t0);
      seen += chunk.length;
      if (size !== undefined && seen > size) return cb(mismatch(where, `more than the ${size} bytes its descriptor says`));
      cb(null, chunk);
    },
    flush(cb) {
      if (size !== undefined && seen !== size) return cb(mismatch(where, `${seen} bytes, the descriptor says ${size} (truncated?)`));
      const got = `${algorithm}:${hash.digest('hex')}`;
      cb(got === digest ? null : mismatch(where, `its digest is ${got}, expected ${digest}`));
    },
  });
}

function mismatch(where: string, what: string): SifError {
  return new SifError('SIF_E_BUILD_DIGEST', `${where} does not match its digest: ${what}`, {
    hint: 'the image is corrupt or was changed after it was written; fetch or export it again',
  });
}
