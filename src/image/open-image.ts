/**
 * Identify an image (SIF or plain squashfs) and locate its squashfs root filesystem,
 * checking everything that can be checked cheaply so that exec fails with a clear
 * error here instead of an obscure FUSE failure inside the starter.
 */
import { resolve } from 'node:path';
import { SifError } from '../errors.js';
import {
  SIF_ARCH_TO_GO,
  describeDescriptor,
  SIF_FS_TYPE_NAMES,
  SIF_HEADER_SIZE,
  SIF_MAGIC_OFFSET,
  SifDataType,
  SifFsType,
  SifPartType,
} from './sif-format.js';
import { hasSifMagic, readAt, readSif, type SifDescriptor, type SifFile, withImageFd } from './sif-reader.js';
import {
  SQUASHFS_SUPERBLOCK_SIZE,
  hasSquashfsMagic,
  parseSquashfsSuperblock,
  type SquashfsCompression,
  type SquashfsSuperblock,
} from './squashfs-superblock.js';

export type ImageFormat = 'sif' | 'squashfs';

export interface ImageInfo {
  /** Absolute path of the image file. */
  path: string;
  format: ImageFormat;
  /** Byte offset of the squashfs root filesystem in the file (0 for plain squashfs). */
  rootfsOffset: number;
  /** Bytes available to it: the partition size (SIF) or the file size (squashfs). */
  rootfsSize: number;
  /** Go arch name of the root filesystem, or null when unknown (plain squashfs, SIF "00"). */
  arch: string | null;
  compression: SquashfsCompression;
  superblock: SquashfsSuperblock;
  /** Parsed header and descriptors, for SIF images. */
  sif?: SifFile;
}

const TRUNCATED_HINT = 'the file was probably cut short while copying or downloading; fetch it again';

/**
 * Opens `path`, detects its format and validates the root filesystem's superblock.
 * Synchronous: a few small reads, on the path every `sif exec` takes.
 */
export function openImage(path: string): ImageInfo {
  return withImageFd(path, (fd, size) => imageInfo(fd, size, path));
}

/** openImage on a file already open (fd, of `size` bytes); `path` names it in errors. */
export function imageInfo(fd: number, size: number, path: string): ImageInfo {
  const head = readAt(fd, 0, SIF_HEADER_SIZE, path);
  if (hasSifMagic(head)) return openSifImage(fd, size, path);
  if (hasSquashfsMagic(head)) return openSquashfsImage(fd, size, path);
  const what = size === 0 ? 'the file is empty' : `looked for "SIF_MAGIC" at offset ${SIF_MAGIC_OFFSET} and squashfs magic "hsqs" at offset 0`;
  throw new SifError('SIF_E_IMAGE_NOT_AN_IMAGE', `${path} is not a SIF or squashfs image (${what})`, {
    hint: 'pass a .sif file built by `sif build` or apptainer, or a squashfs made by mksquashfs',
  });
}

function openSquashfsImage(fd: number, size: number, path: string): ImageInfo {
  const superblock = readSuperblock(fd, 0, size, path);
  return {
    path: resolve(path),
    format: 'squashfs',
    rootfsOffset: 0,
    rootfsSize: size,
    arch: null,
    compression: superblock.compression,
    superblock,
  };
}

function openSifImage(fd: number, size: number, path: string): ImageInfo {
  const sif = readSif(fd, size, path);
  const part = primaryPartition(sif, path);
  if (part.fsType !== SifFsType.Squashfs) {
    const fs = SIF_FS_TYPE_NAMES[part.fsType ?? 0] ?? `unknown type ${part.fsType}`;
    const encrypted = part.fsType === SifFsType.EncryptedSquashfs || part.fsType === SifFsType.GocryptfsSquashfs;
    throw new SifError('SIF_E_IMAGE_UNSUPPORTED_FS', `${path}: primary partition (object ${part.id}) is ${fs}; only squashfs is supported`, {
      hint: encrypted ? 'encrypted images are not supported; rebuild without encryption' : 'rebuild the image with `sif build`',
    });
  }
  const superblock = readSuperblock(fd, part.offset, part.size, path);
  return {
    path: resolve(path),
    format: 'sif',
    rootfsOffset: part.offset,
    rootfsSize: part.size,
    // The partition's own arch is authoritative; the header copy is a fallback.
    arch: part.arch ?? sif.header.arch,
    compression: superblock.compression,
    superblock,
    sif,
  };
}

function primaryPartition(sif: SifFile, path: string): SifDescriptor {
  const parts = sif.descriptors.filter((d) => d.dataType === SifDataType.Partition);
  const prim = parts.filter((d) => d.partType === SifPartType.PrimSys);
  if (prim.length === 1 && prim[0]) return prim[0];
  if (prim.length > 1) {
    throw new SifError('SIF_E_IMAGE_CORRUPT', `${path}: ${prim.length} primary system partitions (objects ${prim.map((d) => d.id).join(', ')}); expected one`);
  }
  const has = parts.length
    ? `partitions: ${parts.map((d) => `${d.id} ${describeDescriptor(d)}`).join(', ')}`
    : sif.descriptors.length
      ? `no partitions; objects: ${sif.descriptors.map((d) => `${d.id} ${describeDescriptor(d)}`).join(', ')}`
      : 'no objects at all';
  throw new SifError('SIF_E_IMAGE_NO_ROOTFS', `${path} has no primary system partition (${has})`, {
    hint: 'this SIF holds no container root filesystem; build one with `sif build`',
  });
}

/** Read and validate the superblock of a squashfs occupying [offset, offset+avail). */
function readSuperblock(fd: number, offset: number, avail: number, path: string): SquashfsSuperblock {
  const buf = readAt(fd, offset, Math.min(SQUASHFS_SUPERBLOCK_SIZE, avail), path);
  if (!hasSquashfsMagic(buf)) {
    throw new SifError('SIF_E_IMAGE_CORRUPT', `${path}: no squashfs magic "hsqs" at offset ${offset}`, {
      hint: 'the image is damaged; rebuild it or fetch it again',
    });
  }
  const sb = parseSquashfsSuperblock(buf, path);
  if (sb.bytesUsed > avail) {
    throw new SifError('SIF_E_IMAGE_TRUNCATED', `${path}: squashfs needs ${sb.bytesUsed} bytes but only ${avail} are present`, {
      hint: TRUNCATED_HINT,
    });
  }
  return sb;
}

/** This machine's byte order. (node:os says the same, but loading it costs every exec ~0.6 ms.) */
function hostEndianness(): 'BE' | 'LE' {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'LE' : 'BE';
}

/** Node's process.arch → Go GOARCH; other known Go names pass through. Null when unknown. */
export function goArchFromNodeArch(arch: string, endian: 'BE' | 'LE' = hostEndianness()): string | null {
  const map: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm: 'arm',
    arm64: 'arm64',
    ppc64: endian === 'LE' ? 'ppc64le' : 'ppc64',
    mips: 'mips',
    mipsel: 'mipsle',
    mips64el: 'mips64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
  };
  if (map[arch]) return map[arch];
  return Object.values(SIF_ARCH_TO_GO).includes(arch) ? arch : null;
}

/**
 * Refuse an image built for another architecture. Passes when either side is
 * unknown (plain squashfs has no arch record).
 */
export function checkArch(info: ImageInfo, hostArch: string = process.arch): void {
  const host = goArchFromNodeArch(hostArch);
  if (info.arch === null || host === null || info.arch === host) return;
  throw new SifError('SIF_E_IMAGE_ARCH', `${info.path} is built for ${info.arch}, but this host is ${host}`, {
    hint: `build or pull the image for this host with --arch ${host}`,
  });
}
