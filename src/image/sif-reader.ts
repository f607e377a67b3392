/**
 * SIF reader: header and descriptor table only (a few tens of KiB), never the data.
 * Field layout in ./sif-format.ts.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { SifError } from '../errors.js';
import {
  SIF_DATA_TYPE_NAMES, SIF_DESC, SIF_DESCRIPTOR_SIZE, SIF_EXTRA_LEN, SIF_GROUP_MASK, SIF_HEADER,
  SIF_HEADER_SIZE, SIF_LAUNCH_SCRIPT_LEN, SIF_MAGIC, SIF_NAME_LEN, SIF_PARTITION_EXTRA,
  SIF_SIGNATURE_EXTRA, SIF_VERSION, SIF_ZERO_TIME, SifDataType, describeDescriptor, goArchFromSifArch,
} from './sif-format.js';

export interface SifHeader {
  launchScript: string;
  version: string;
  /** Raw two-digit arch code from the header ("00" = unknown). */
  archCode: string;
  /** Go arch name of the primary partition, or null when unknown. */
  arch: string | null;
  /** UUID in canonical form, or null for the nil UUID (deterministic images). */
  id: string | null;
  /** Unix seconds, or null when unset (Go zero time). */
  createdAt: number | null;
  modifiedAt: number | null;
  descriptorsFree: number;
  descriptorsTotal: number;
  descriptorsOffset: number;
  descriptorsSize: number;
  dataOffset: number;
  dataSize: number;
}

export interface SifDescriptor {
  id: number;
  dataType: number;
  /** siftool display name of dataType, e.g. "FS", "JSON.Generic". */
  dataTypeName: string;
  /** Group number, or null when the object is in no group. */
  groupId: number | null;
  /** Linked object or group ID (see linkedIsGroup), or null when unlinked. */
  linkedId: number | null;
  linkedIsGroup: boolean;
  offset: number;
  size: number;
  sizeWithPadding: number;
  createdAt: number | null;
  modifiedAt: number | null;
  name: string;
  /** Raw Extra bytes (type-specific metadata, e.g. an OCI blob digest). */
  extra: Buffer;
  /** Partitions only. */
  fsType?: number;
  partType?: number;
  archCode?: string;
  arch?: string | null;
  /** Signatures only. */
  hashType?: number;
}

export interface SifFile {
  /** The path as given (used in messages). */
  path: string;
  fileSize: number;
  header: SifHeader;
  /** Used descriptors only, in table order. */
  descriptors: SifDescriptor[];
}

/** Upper bound on descriptor slots; real files use 48, this only stops absurd allocations. */
const MAX_DESCRIPTORS = 65536;

/** NUL-terminated string from a fixed-size field. */
function cstr(buf: Buffer, start: number, len: number): string {
  const field = buf.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

function i64(buf: Buffer, off: number): number {
  return Number(buf.readBigInt64LE(off));
}

function time(buf: Buffer, off: number): number | null {
  const t = i64(buf, off);
  return t === SIF_ZERO_TIME ? null : t;
}

function uuid(raw: Buffer): string | null {
  if (raw.every((b) => b === 0)) return null;
  const h = raw.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function hasSifMagic(buf: Buffer): boolean {
  const at = SIF_HEADER.magic;
  return buf.length >= at + SIF_MAGIC.length && buf.subarray(at, at + SIF_MAGIC.length).equals(SIF_MAGIC);
}

/** Parse the 128-byte global header. `file` only names the image in error messages. */
export function readSifHeader(buf: Buffer, file = 'image'): SifHeader {
  if (!hasSifMagic(buf)) {
    throw new SifError('SIF_E_IMAGE_NOT_AN_IMAGE', `${file}: no SIF magic "SIF_MAGIC" at offset 32`);
  }
  if (buf.length < SIF_HEADER_SIZE) {
    throw new SifError('SIF_E_IMAGE_TRUNCATED', `${file}: SIF header is truncated (${buf.length} of ${SIF_HEADER_SIZE} bytes)`, {
      hint: 'the file was probably cut short while copying or downloading; fetch it again',
    });
  }
  const version = cstr(buf, SIF_HEADER.version, 3);
  if (version !== SIF_VERSION) {
    throw new SifError('SIF_E_IMAGE_TRUNCATED', `${file}: unsupported or damaged SIF header (version "${version}", expected "${SIF_VERSION}")`, {
      hint: 'the header is damaged or the file was written by an incompatible tool; rebuild or fetch it again',
    });
  }
  const archCode = cstr(buf, SIF_HEADER.arch, 3);
  return {
    launchScript: cstr(buf, SIF_HEADER.launchScript, SIF_LAUNCH_SCRIPT_LEN),
    version,
    archCode,
    arch: goArchFromSifArch(archCode),
    id: uuid(buf.subarray(SIF_HEADER.id, SIF_HEADER.id + 16)),
    createdAt: time(buf, SIF_HEADER.createdAt),
    modifiedAt: time(buf, SIF_HEADER.modifiedAt),
    descriptorsFree: i64(buf, SIF_HEADER.descriptorsFree),
    descriptorsTotal: i64(buf, SIF_HEADER.descriptorsTotal),
    descriptorsOffset: i64(buf, SIF_HEADER.descriptorsOffset),
    descriptorsSize: i64(buf, SIF_HEADER.descriptorsSize),
    dataOffset: i64(buf, SIF_HEADER.dataOffset),
    dataSize: i64(buf, SIF_HEADER.dataSize),
  };
}

/** Parse one 585-byte descriptor slot; null when the slot is unused. */
function parseDescriptor(d: Buffer): SifDescriptor | null {
  if (d.readUInt8(SIF_DESC.used) === 0) return null;
  const dataType = d.readInt32LE(SIF_DESC.dataType);
  const rawGroup = d.readUInt32LE(SIF_DESC.groupId);
  const rawLink = d.readUInt32LE(SIF_DESC.linkedId);
  const group = rawGroup & ~SIF_GROUP_MASK;
  const linkIsGroup = rawLink !== 0 && (rawLink & SIF_GROUP_MASK) >>> 0 === SIF_GROUP_MASK;
  const extra = Buffer.from(d.subarray(SIF_DESC.extra, SIF_DESC.extra + SIF_EXTRA_LEN));
  const desc: SifDescriptor = {
    id: d.readUInt32LE(SIF_DESC.id),
    dataType,
    dataTypeName: SIF_DATA_TYPE_NAMES[dataType] ?? `Unknown(0x${dataType.toString(16)})`,
    groupId: group === 0 ? null : group,
    linkedId: rawLink === 0 ? null : linkIsGroup ? rawLink & ~SIF_GROUP_MASK : rawLink,
    linkedIsGroup: linkIsGroup,
    offset: i64(d, SIF_DESC.offset),
    size: i64(d, SIF_DESC.size),
    sizeWithPadding: i64(d, SIF_DESC.sizeWithPadding),
    createdAt: time(d, SIF_DESC.createdAt),
    modifiedAt: time(d, SIF_DESC.modifiedAt),
    name: cstr(d, SIF_DESC.name, SIF_NAME_LEN),
    extra,
  };
  if (dataType === SifDataType.Partition) {
    desc.fsType = extra.readInt32LE(SIF_PARTITION_EXTRA.fsType);
    desc.partType = extra.readInt32LE(SIF_PARTITION_EXTRA.partType);
    desc.archCode = cstr(extra, SIF_PARTITION_EXTRA.arch, 3);
    desc.arch = goArchFromSifArch(desc.archCode);
  } else if (dataType === SifDataType.Signature) {
    desc.hashType = extra.readInt32LE(SIF_SIGNATURE_EXTRA.hashType);
  }
  return desc;
}

/** Parse a descriptor table of `total` slots; returns the used ones. */
export function readDescriptors(table: Buffer, total: number): SifDescriptor[] {
  const out: SifDescriptor[] = [];
  for (let i = 0; i < total; i++) {
    const start = i * SIF_DESCRIPTOR_SIZE;
    const d = parseDescriptor(table.subarray(start, start + SIF_DESCRIPTOR_SIZE));
    if (d) out.push(d);
  }
  return out;
}

/** Opens a path for reading, mapping errno to image error codes. Caller closes the fd. */
function openImageFd(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new SifError('SIF_E_IMAGE_NOT_FOUND', `image not found: ${path}`, { hint: 'check the path', cause: e });
    }
    const denied = code === 'EACCES' || code === 'EPERM';
    const why = denied ? 'permission denied' : ((e as Error).message ?? String(e));
    throw new SifError('SIF_E_IMAGE_UNREADABLE', `cannot open image ${path}: ${why}`, {
      cause: e,
      ...(denied ? { hint: 'the image must be readable by you (ls -l shows its mode and owner)' } : {}),
    });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) {
      throw new SifError('SIF_E_IMAGE_UNREADABLE', `${path} is a directory, not an image file`, {
        hint: 'sandbox directories are not supported; pass a .sif or squashfs file',
      });
    }
    if (!st.isFile()) throw new SifError('SIF_E_IMAGE_UNREADABLE', `${path} is not a regular file`);
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Runs fn on the image at path, opened (openImageFd), and closes it. */
export function withImageFd<T>(path: string, fn: (fd: number, size: number) => T): T {
  const { fd, size } = openImageFd(path);
  try {
    return fn(fd, size);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads up to `len` bytes at `pos` (fewer only at end of file). Synchronous: images are
 * read a few small pieces at a time (headers, metadata), where a round trip through
 * libuv's thread pool per read costs more than the read, and `sif exec` pays for it.
 */
export function readAt(fd: number, pos: number, len: number, file: string): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  try {
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, pos + got);
      if (n === 0) break;
      got += n;
    }
  } catch (e) {
    throw new SifError('SIF_E_IMAGE_UNREADABLE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  return buf.subarray(0, got);
}

function truncated(file: string, what: string): SifError {
  return new SifError('SIF_E_IMAGE_TRUNCATED', `${file}: ${what} extends past the end of the file`, {
    hint: 'the file was probably cut short while copying or downloading; fetch it again',
  });
}

/** Parses header + descriptor table of an open file whose size is known. */
export function readSif(fd: number, fileSize: number, file: string): SifFile {
  const header = readSifHeader(readAt(fd, 0, SIF_HEADER_SIZE, file), file);
  const { descriptorsTotal: total, descriptorsOffset: off } = header;
  if (total < 0 || total > MAX_DESCRIPTORS || off < SIF_HEADER_SIZE) {
    throw new SifError('SIF_E_IMAGE_CORRUPT', `${file}: corrupt SIF header (descriptor table: ${total} slots at offset ${off})`);
  }
  const tableSize = total * SIF_DESCRIPTOR_SIZE;
  if (off + tableSize > fileSize) throw truncated(file, 'the SIF descriptor table');
  const descriptors = readDescriptors(readAt(fd, off, tableSize, file), total);
  for (const d of descriptors) {
    if (d.offset < 0 || d.size < 0) {
      throw new SifError('SIF_E_IMAGE_CORRUPT', `${file}: corrupt SIF descriptor ${d.id} (offset ${d.offset}, size ${d.size})`);
    }
    if (d.offset + d.size > fileSize) throw truncated(file, `SIF object ${d.id} (${describeDescriptor(d)})`);
  }
  return { path: file, fileSize, header, descriptors };
}

/** Where a SIF's bytes come from: its path, or an open file (fd or FileHandle, left open). */
export type SifSource = string | number | FileHandle;

/** Runs fn on the source's fd, opening (and closing) it when given a path. */
function withSource<T>(source: SifSource, fn: (fd: number, size: number) => T): T {
  if (typeof source === 'string') return withImageFd(source, fn);
  const fd = typeof source === 'number' ? source : source.fd;
  return fn(fd, fstatSync(fd).size);
}

function sourceName(source: SifSource, name?: string): string {
  return name ?? (typeof source === 'string' ? source : `fd ${typeof source === 'number' ? source : source.fd}`);
}

/** Opens a SIF by path or FileHandle (left open) and parses its header and used descriptors. */
export function openSif(source: SifSource, name?: string): SifFile {
  return withSource(source, (fd, size) => readSif(fd, size, sourceName(source, name)));
}

/** Reads one object's bytes; for small objects (JSON, deffile), refuses anything over maxBytes. */
export function readSifObject(source: SifSource, desc: SifDescriptor, opts: { name?: string; maxBytes?: number } = {}): Buffer {
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const file = sourceName(source, opts.name);
  if (desc.size > maxBytes) {
    throw new SifError('SIF_E_IMAGE_CORRUPT', `${file}: SIF object ${desc.id} is ${desc.size} bytes, more than the ${maxBytes} expected`);
  }
  return withSource(source, (fd) => {
    const buf = readAt(fd, desc.offset, desc.size, file);
    if (buf.length < desc.size) throw truncated(file, `SIF object ${desc.id}`);
    return buf;
  });
}
