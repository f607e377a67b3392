/**
 * The image as `sif exec` needs it, read synchronously: a few small reads of one open
 * file. The reader in src/image is asynchronous, and on the exec path its promises
 * cost more than the reading (the libuv thread pool starts for them, and every read
 * is a round trip through it). This one handles well-formed images only: at the first
 * sign of anything else it gives up (undefined), and openForLaunch asks src/image,
 * whose errors are the ones users see. So it must agree with src/image on every
 * image it accepts (test/unit/exec/read-image.test.ts compares them).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ImageInfo } from '../image/open-image.js';
import { SIF_DESCRIPTOR_SIZE, SIF_HEADER_SIZE, SifDataType, SifFsType, SifPartType } from '../image/sif-format.js';
import { findJsonObject, OCI_CONFIG_NAME, type OciImageConfig } from '../image/sif-objects.js';
import { hasSifMagic, readDescriptors, readSifHeader, type SifFile } from '../image/sif-reader.js';
import { hasSquashfsMagic, parseSquashfsSuperblock, SQUASHFS_SUPERBLOCK_SIZE, type SquashfsSuperblock } from '../image/squashfs-superblock.js';

/** Limits that src/image applies too (sif-reader.ts, sif-objects.ts). */
const MAX_DESCRIPTORS = 65536;
const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** Thrown inside this module only: the image is not one it handles. */
class Unhandled extends Error {}

function readAt(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function superblockAt(fd: number, offset: number, avail: number): SquashfsSuperblock {
  const buf = readAt(fd, offset, Math.min(SQUASHFS_SUPERBLOCK_SIZE, avail));
  if (!hasSquashfsMagic(buf)) throw new Unhandled();
  const sb = parseSquashfsSuperblock(buf);
  if (sb.bytesUsed > avail) throw new Unhandled();
  return sb;
}

function sifAt(fd: number, head: Buffer, size: number, path: string): SifFile {
  const header = readSifHeader(head, path);
  const { descriptorsTotal: total, descriptorsOffset: off } = header;
  if (total < 0 || total > MAX_DESCRIPTORS || off < SIF_HEADER_SIZE || off + total * SIF_DESCRIPTOR_SIZE > size) throw new Unhandled();
  const descriptors = readDescriptors(readAt(fd, off, total * SIF_DESCRIPTOR_SIZE), total);
  if (descriptors.some((d) => d.offset < 0 || d.size < 0 || d.offset + d.size > size)) throw new Unhandled();
  return { path, fileSize: size, header, descriptors };
}

function ociConfigOf(fd: number, sif: SifFile): OciImageConfig | null {
  const desc = findJsonObject(sif, OCI_CONFIG_NAME);
  if (!desc) return null;
  if (desc.size > MAX_JSON_BYTES) throw new Unhandled();
  const bytes = readAt(fd, desc.offset, desc.size);
  if (bytes.length < desc.size) throw new Unhandled();
  const value: unknown = JSON.parse(bytes.toString('utf8'));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Unhandled();
  return value as OciImageConfig;
}

function readOpen(fd: number, path: string): { info: ImageInfo; ociConfig: OciImageConfig | null } {
  const st = fstatSync(fd);
  if (!st.isFile()) throw new Unhandled();
  const size = st.size;
  const head = readAt(fd, 0, SIF_HEADER_SIZE);
  if (hasSifMagic(head)) {
    const sif = sifAt(fd, head, size, path);
    const prim = sif.descriptors.filter((d) => d.dataType === SifDataType.Partition && d.partType === SifPartType.PrimSys);
    const part = prim[0];
    if (prim.length !== 1 || !part || part.fsType !== SifFsType.Squashfs) throw new Unhandled();
    const superblock = superblockAt(fd, part.offset, part.size);
    const info: ImageInfo = {
      path: resolve(path),
      format: 'sif',
      rootfsOffset: part.offset,
      rootfsSize: part.size,
      arch: part.arch ?? sif.header.arch,
      compression: superblock.compression,
      superblock,
      sif,
    };
    return { info, ociConfig: ociConfigOf(fd, sif) };
  }
  if (!hasSquashfsMagic(head)) throw new Unhandled();
  const superblock = superblockAt(fd, 0, size);
  const info: ImageInfo = {
    path: resolve(path),
    format: 'squashfs',
    rootfsOffset: 0,
    rootfsSize: size,
    arch: null,
    compression: superblock.compression,
    superblock,
  };
  return { info, ociConfig: null };
}

/** The image and its OCI config, or undefined when src/image must look at it (errors included). */
export function readImageSync(path: string): { info: ImageInfo; ociConfig: OciImageConfig | null } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return readOpen(fd, path);
  } catch {
    // Unhandled, a parser's SifError, a read error, bad JSON: all src/image's to report.
    return undefined;
  } finally {
    closeSync(fd);
  }
}
