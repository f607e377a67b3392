/**
 * Finds the members of an uncompressed tar file (an OCI or Docker archive) by
 * reading only the headers, so blobs are later read in place with a byte range
 * instead of being unpacked to disk. Understands ustar prefixes, PAX `path`
 * records and GNU long names, which is what tar, skopeo and docker write.
 */
import type { FileHandle } from 'node:fs/promises';
import { SifError } from '../../errors.js';

export interface TarMember {
  offset: number;
  size: number;
  /** '0' file, '1' hard link, '2' symlink, '5' directory, ... */
  type: string;
  linkname: string;
}

const BLOCK = 512;

function field(block: Buffer, start: number, len: number): string {
  const raw = block.subarray(start, start + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function octal(block: Buffer, start: number, len: number): number {
  const raw = block.subarray(start, start + len);
  if (raw[0]! & 0x80) {
    // GNU base-256 for sizes over 8 GiB.
    let n = 0;
    for (let i = 1; i < len; i++) n = n * 256 + raw[i]!;
    return n;
  }
  const text = field(block, start, len).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.subarray(pos, space).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

const normalise = (name: string): string => name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');

export async function indexTar(file: FileHandle, fileSize: number, describe: string): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  const bad = (what: string) =>
    new SifError('SIF_E_BUILD_SOURCE', `${describe}: not a valid tar archive: ${what}`, {
      hint: 'a compressed archive must be uncompressed first (e.g. gunzip)',
    });
  const readData = async (offset: number, size: number): Promise<Buffer> => {
    const buf = Buffer.alloc(size);
    const { bytesRead } = await file.read(buf, 0, size, offset);
    if (bytesRead !== size) throw bad(`truncated at byte ${offset + bytesRead}`);
    return buf;
  };
  for (;;) {
    if (pos + BLOCK > fileSize) throw bad(`truncated at byte ${pos}`);
    const { bytesRead } = await file.read(header, 0, BLOCK, pos);
    if (bytesRead !== BLOCK) throw bad(`truncated at byte ${pos}`);
    if (header.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    if (sum !== octal(header, 148, 8)) throw bad(`bad header checksum at byte ${pos}`);
    const type = String.fromCharCode(header[156] || 0x30);
    const meta = type === 'L' || type === 'K' || type === 'x' || type === 'g';
    const size = !meta && pax.has('size') ? Number(pax.get('size')) : octal(header, 124, 12);
    const dataOffset = pos + BLOCK;
    if (dataOffset + size > fileSize) throw bad(`member at byte ${pos} runs past the end (truncated?)`);
    pos = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') longName = (await readData(dataOffset, size)).toString('utf8').replace(/\0+$/, '');
    else if (type === 'K') longLink = (await readData(dataOffset, size)).toString('utf8').replace(/\0+$/, '');
    else if (type === 'x') pax = paxRecords(await readData(dataOffset, size));
    else if (type === 'g') continue;
    else {
      const magic = field(header, 257, 6);
      const prefix = magic.startsWith('ustar') ? field(header, 345, 155) : '';
      const plain = field(header, 0, 100);
      const name = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${plain}` : plain);
      const linkname = pax.get('linkpath') ?? longLink ?? field(header, 157, 100);
      members.set(normalise(name), { offset: dataOffset, size, type, linkname });
      longName = longLink = undefined;
      pax = new Map();
    }
  }
  return members;
}
