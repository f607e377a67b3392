/**
 * Finds the members of an uncompressed tar file (an OCI or Docker archive) by
 * reading only the headers, so blobs are later read in place with a byte range
 * instead of being unpacked to disk. Understands ustar prefixes, PAX `path`
 * records and GNU long names, which is what tar, skopeo and docker write.
 */
import type { FileHandle } from 'node:fs/promises';
import { SifError } from '../../errors.js';
import { BLOCK, checksumMatches, field, isZeroBlock, numeric, parsePax, TarFormatError } from '../merge/tar-header.js';

export interface TarMember {
  offset: number;
  size: number;
  /** '0' file, '1' hard link, '2' symlink, '5' directory, ... */
  type: string;
  linkname: string;
}

/** A header field's raw bytes (latin1) read as UTF-8, as member names are. */
const utf8 = (raw: string): string => Buffer.from(raw, 'latin1').toString('utf8');

const normalise = (name: string): string => name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');

export async function indexTar(file: FileHandle, fileSize: number, describe: string): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, Buffer>();
  const bad = (what: string) =>
    new SifError('SIF_E_BUILD_SOURCE', `${describe}: not a valid tar archive: ${what}`, {
      hint: 'a compressed archive must be uncompressed first (e.g. gunzip)',
    });
  // The header helpers' errors, as this archive's.
  const parsed = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw e instanceof TarFormatError ? bad(e.message) : e;
    }
  };
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
    if (isZeroBlock(header)) break;
    if (!checksumMatches(header)) throw bad(`bad header checksum at byte ${pos}`);
    const type = String.fromCharCode(header[156] || 0x30);
    const meta = type === 'L' || type === 'K' || type === 'x' || type === 'g';
    const size = !meta && pax.has('size') ? Number(pax.get('size')!.toString('latin1')) : parsed(() => numeric(header, 124, 12, pos, 'size'));
    const dataOffset = pos + BLOCK;
    if (dataOffset + size > fileSize) throw bad(`member at byte ${pos} runs past the end (truncated?)`);
    pos = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') longName = (await readData(dataOffset, size)).toString('utf8').replace(/\0+$/, '');
    else if (type === 'K') longLink = (await readData(dataOffset, size)).toString('utf8').replace(/\0+$/, '');
    else if (type === 'x') {
      const records = await readData(dataOffset, size);
      pax = parsed(() => parsePax(records, dataOffset - BLOCK));
    } else if (type === 'g') continue;
    else {
      const magic = field(header, 257, 6);
      const prefix = magic.startsWith('ustar') ? utf8(field(header, 345, 155)) : '';
      const plain = utf8(field(header, 0, 100));
      const name = pax.get('path')?.toString('utf8') ?? longName ?? (prefix ? `${prefix}/${plain}` : plain);
      const linkname = pax.get('linkpath')?.toString('utf8') ?? longLink ?? utf8(field(header, 157, 100));
      members.set(normalise(name), { offset: dataOffset, size, type, linkname });
      longName = longLink = undefined;
      pax = new Map();
    }
  }
  return members;
}
