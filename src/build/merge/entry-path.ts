/**
 * Names of layer entries. A name is kept as a "key": a latin1 string holding the
 * name's raw bytes one char per byte, so non-UTF-8 names survive byte-exact and
 * '/' and '.' are single chars; '' is the root. Keys are what the merge compares,
 * and keyBytes() turns one back into the bytes the squashfs writer stores.
 */
import { isUtf8 } from 'node:buffer';

/** Thrown for a name the merge must refuse; the caller adds the layer. */
export class EntryNameError extends Error {}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * The entry name as a key: './' prefixes, '/' prefixes (absolute names become
 * relative), trailing and repeated slashes and '.' components dropped. A '..'
 * component is refused: OCI layers never need one and it could reach outside.
 */
export function normalizeName(raw: string): string {
  let k = raw;
  // Fast path, the usual 'usr/bin/x' or './usr/bin/x': strip the prefix, and if no
  // component can be empty, '.' or '..', the rest is already a key.
  let start = 0;
  while (start < k.length && (k[start] === '/' || (k[start] === '.' && (k[start + 1] === '/' || start + 1 === k.length)))) start++;
  let end = k.length;
  while (end > start && k[end - 1] === '/') end--;
  k = k.slice(start, end);
  if (k === '' || (k[0] !== '.' && !k.includes('//') && !k.includes('/.'))) return k.length > NAME_MAX ? checkLengths(k, raw) : k;

  const out: string[] = [];
  for (const c of k.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw new EntryNameError(`the name ${showKey(raw)} contains a '..' component`);
    out.push(c);
  }
  return checkLengths(out.join('/'), raw);
}

/** Linux (and squashfs) limit one name to 255 bytes. */
const NAME_MAX = 255;

function checkLengths(key: string, raw: string): string {
  if (key.length > NAME_MAX && key.split('/').some((c) => c.length > NAME_MAX))
    throw new EntryNameError(`the name ${showKey(raw)} has a component longer than ${NAME_MAX} bytes`);
  return key;
}

export function parentKey(key: string): string {
  const i = key.lastIndexOf('/');
  return i < 0 ? '' : key.slice(0, i);
}

export function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** Proper ancestors of a key, the root ('') first. */
export function ancestors(key: string): string[] {
  const out = [''];
  for (let i = key.indexOf('/'); i >= 0; i = key.indexOf('/', i + 1)) out.push(key.slice(0, i));
  return key === '' ? [] : out;
}

export type Whiteout =
  | { kind: 'whiteout'; target: string } // '.wh.NAME': NAME is removed from the layers below
  | { kind: 'opaque'; dir: string } // '.wh..wh..opq': the directory's lower contents are removed
  | { kind: 'aufs' } // other '.wh..wh.*' names: AUFS bookkeeping, meaningless in OCI layers
  | { kind: 'invalid'; why: string };

/** The whiteout a key stands for, or undefined for an ordinary entry. */
export function whiteoutOf(key: string): Whiteout | undefined {
  const base = baseName(key);
  if (base === OPAQUE) return { kind: 'opaque', dir: parentKey(key) };
  // AUFS metadata: '.wh..wh.*' names, and whatever a top-level one holds (.wh..wh.plnk/*), as Docker skips them
  if (base.startsWith(WH + WH) || key.startsWith(WH + WH)) return { kind: 'aufs' };
  if (!base.startsWith(WH)) return undefined;
  const dir = parentKey(key);
  const name = base.slice(WH.length);
  if (name === '' || name === '.' || name === '..') return { kind: 'invalid', why: `whiteout ${showKey(key)} names no entry` };
  return { kind: 'whiteout', target: dir === '' ? name : `${dir}/${name}` };
}

/** The raw bytes of a key, for the squashfs writer. */
export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

/** A key for messages: UTF-8 names as they are, other bytes as \xNN escapes. */
export function showKey(key: string): string {
  const b = Buffer.from(key, 'latin1');
  if (isUtf8(b)) return JSON.stringify(b.toString('utf8'));
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return `"${s}"`;
}
