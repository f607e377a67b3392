import { isAbsolute, normalize, resolve } from 'node:path';
import { SifError } from '../errors.js';

/** One `--bind` entry, as the user wrote it (source not yet checked on the host). */
export interface BindSpec {
  src: string;
  dst: string;
  readonly: boolean;
}

const OPTIONS = new Set(['ro', 'rw']);
const SYNTAX_HINT = 'use --bind SRC[:DST[:ro|rw]], several separated by commas; write \\, or \\: for a comma or colon in a path';

/**
 * Parses `--bind` values: each `src[:dst[:ro|rw]]`, several per value separated
 * by commas (Apptainer's syntax). `\,` and `\:` stand for a comma and a colon
 * inside a path; an option word after a comma (`/a:/b:ro,rw`) still belongs to
 * the bind before it, as in Apptainer. Relative sources are taken from `cwd`.
 */
export function parseBinds(values: readonly string[], cwd: string): BindSpec[] {
  const specs: BindSpec[] = [];
  for (const value of values) {
    let previous: string[] | undefined;
    for (const entry of splitUnescaped(value, ',')) {
      const fields = splitUnescaped(entry.trim(), ':');
      if (fields.length === 1 && fields[0] === '') continue;
      if (previous?.length === 3 && fields.length === 1 && OPTIONS.has(fields[0]!)) {
        previous[2] = fields[0]!;
        specs[specs.length - 1] = toSpec(previous, entry, cwd);
        continue;
      }
      specs.push(toSpec(fields, entry, cwd));
      previous = fields;
    }
  }
  return specs;
}

/** Splits at `sep` not preceded by a backslash; `\<sep>` becomes `<sep>`, other backslashes stay. */
function splitUnescaped(text: string, sep: ',' | ':'): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && (text[i + 1] === ',' || text[i + 1] === ':')) {
      // Keep the escape for the colon split that follows the comma split.
      current += sep === ',' && text[i + 1] === ':' ? '\\:' : text[i + 1];
      i++;
    } else if (c === sep) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function toSpec(parts: string[], entry: string, cwd: string): BindSpec {
  if (parts.length > 3 || parts.some((p) => p === '')) {
    throw new SifError('SIF_E_BIND_SPEC', `bad bind specification '${entry}'`, { hint: SYNTAX_HINT });
  }
  const [src = '', dstRaw, opt] = parts;
  if (opt !== undefined && !OPTIONS.has(opt)) {
    throw new SifError('SIF_E_BIND_SPEC', `unknown bind option '${opt}' in '${entry}'`, {
      hint: "the options are 'ro' (read-only) and 'rw' (the default)",
    });
  }
  const dst = dstRaw ?? src;
  if (!isAbsolute(dst)) {
    throw new SifError('SIF_E_BIND_SPEC', `bind destination '${dst}' in '${entry}' is not an absolute path`);
  }
  return { src: resolve(cwd, src), dst: normalize(dst).replace(/(.)\/$/, '$1'), readonly: opt === 'ro' };
}
