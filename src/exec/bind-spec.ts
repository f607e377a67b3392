import { isAbsolute, normalize, resolve } from 'node:path';
import { SifError } from '../errors.js';

/** One `--bind` entry, as the user wrote it (source not yet checked on the host). */
export interface BindSpec {
  src: string;
  dst: string;
  readonly: boolean;
}

/**
 * Parses `--bind` values: each `src[:dst[:ro|rw]]`, several per value separated
 * by commas (Apptainer's syntax). Relative sources are taken from `cwd`.
 */
export function parseBinds(values: readonly string[], cwd: string): BindSpec[] {
  const specs: BindSpec[] = [];
  for (const value of values) {
    for (const entry of value.split(',')) {
      if (entry.trim() === '') continue;
      specs.push(parseOne(entry.trim(), cwd));
    }
  }
  return specs;
}

function parseOne(entry: string, cwd: string): BindSpec {
  const parts = entry.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) {
    throw new SifError('SIF_E_BIND_SPEC', `bad bind specification '${entry}'`, {
      hint: 'use --bind SRC[:DST[:ro|rw]], several separated by commas',
    });
  }
  const [src = '', dstRaw, opt] = parts;
  let readonly = false;
  if (opt !== undefined) {
    if (opt !== 'ro' && opt !== 'rw') {
      throw new SifError('SIF_E_BIND_SPEC', `unknown bind option '${opt}' in '${entry}'`, {
        hint: "the options are 'ro' (read-only) and 'rw' (the default)",
      });
    }
    readonly = opt === 'ro';
  }
  const dst = dstRaw ?? src;
  if (!isAbsolute(dst)) {
    throw new SifError('SIF_E_BIND_SPEC', `bind destination '${dst}' in '${entry}' is not an absolute path`);
  }
  return { src: resolve(cwd, src), dst: normalize(dst).replace(/(.)\/$/, '$1'), readonly };
}
