/**
 * SIF writer, following apptainer/sif's writer rules (docs/design.md, "Images: opening and the SIF layout"):
 * header at 0, 48 descriptors at 4096, data from 32176, partitions aligned to 4096,
 * other objects unaligned, IDs = index+1, group 1 unless given. Every data type pkg/sif
 * defines can be written, with its Extra (partition, signature, cryptographic message,
 * SBOM, OCI digest), so the readers are tested on SIFs made here. The output appears atomically:
 * written to `.NAME.tmp-XXXXXXXX` beside it, fsynced, renamed; on failure nothing is left.
 *
 * Time and ID (documented choice):
 * - default: random v4 UUID, created = modified = now;
 * - `deterministic`: upstream's OptCreateDeterministic: nil UUID, every time = Go zero
 *   time (-62135596800); this reproduces the upstream test images byte for byte;
 * - `sourceDateEpoch`: nil UUID (as Apptainer with SOURCE_DATE_EPOCH) and every time =
 *   that epoch; a content-derived UUID would mean hashing the whole partition for nothing.
 * - `id` forces a UUID in any mode.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SifError } from '../errors.js';
import { syncDir } from '../host/sync-dir.js';
import {
  SIF_ARCH_UNKNOWN, SIF_CRYPTO_EXTRA, SIF_DESC, SIF_DESCRIPTOR_SIZE, SIF_EXTRA_LEN, SIF_GROUP_MASK, SIF_HEADER,
  SIF_HEADER_SIZE, SIF_LAUNCH_SCRIPT_LEN, SIF_MAGIC, SIF_NAME_LEN, SIF_OCI_EXTRA, SIF_PARTITION_EXTRA, SIF_SBOM_EXTRA,
  SIF_SIGNATURE_EXTRA, SIF_VERSION, SIF_ZERO_TIME, SifDataType, SifFsType, SifPartType, sifArchFromGoArch,
} from './sif-format.js';

export const SIF_DEFAULT_LAUNCH_SCRIPT = '#!/usr/bin/env run-singularity\n';
export const SIF_DESCRIPTORS_TOTAL = 48;
export const SIF_DESCRIPTORS_OFFSET = 4096;
export const SIF_DATA_OFFSET = SIF_DESCRIPTORS_OFFSET + SIF_DESCRIPTORS_TOTAL * SIF_DESCRIPTOR_SIZE; // 32176
export const SIF_PARTITION_ALIGN = 4096;
const COPY_CHUNK = 4 * 1024 * 1024;

/**
 * A file copied into the SIF by streaming; `size`, when given, must match the file.
 * With `offset`, only `size` bytes from there are copied (a partition of another image).
 */
export interface SifFileSource { path: string; size?: number; offset?: number }

/** What every object may have. */
export interface SifObjectCommon {
  name?: string;
  /** Default 1; null: in no group (as Apptainer's signatures are). */
  groupId?: number | null;
  /** The object (by ID) or group this one refers to: a signature links to the group it signs. */
  link?: { id: number } | { group: number };
}

export type SifObjectInput = SifObjectCommon & (
  | { type: 'deffile'; data: Buffer }
  | { type: 'generic-json'; name: string; data: Buffer }
  | { type: 'generic'; data: Buffer }
  /** `format`: a SifSbomFormat code. */
  | { type: 'sbom'; format: number; data: Buffer }
  /** `hashType`: a SifHashType code; `fingerprint`: the signing key's (OpenPGP: 20 bytes), none for X.509 signatures. */
  | { type: 'signature'; hashType: number; fingerprint?: Buffer; data: Buffer }
  /** SifFormatType and SifMessageType codes. */
  | { type: 'crypto-message'; formatType: number; messageType: number; data: Buffer }
  /** The sha256 digest of `data` is recorded in the descriptor, as pkg/sif does. */
  | { type: 'oci-root-index' | 'oci-blob'; data: Buffer }
  | {
      type: 'partition';
      data: Buffer | SifFileSource;
      /** SifFsType; default Squashfs. */
      fsType?: number;
      /** SifPartType; default PrimSys. */
      partType?: number;
      /** Go arch name ("amd64", "arm64", ...); SIF cannot record an unknown arch here. */
      arch: string;
    }
);

const DATA_TYPES: Record<SifObjectInput['type'], number> = {
  deffile: SifDataType.Deffile,
  'generic-json': SifDataType.GenericJSON,
  generic: SifDataType.Generic,
  sbom: SifDataType.SBOM,
  signature: SifDataType.Signature,
  'crypto-message': SifDataType.CryptoMessage,
  'oci-root-index': SifDataType.OCIRootIndex,
  'oci-blob': SifDataType.OCIBlob,
  partition: SifDataType.Partition,
};

export interface WriteSifOptions {
  deterministic?: boolean;
  /** Unix seconds (SOURCE_DATE_EPOCH): times = this, nil UUID. */
  sourceDateEpoch?: number;
  /** Canonical UUID text; overrides the mode's default. */
  id?: string;
  /** Default `#!/usr/bin/env run-singularity\n`; must be under 32 bytes. */
  launchScript?: string;
  /** File mode before umask; default 0o755 so `./image.sif` runs via the launch script. */
  mode?: number;
  /** Called as the objects' data is written: bytes written so far, of all. */
  onProgress?(done: number, total: number): void;
}

export interface WriteSifResult {
  path: string;
  fileSize: number;
  /** Where each object went, in input order (ID = index + 1). */
  objects: { id: number; offset: number; size: number }[];
}

interface Placed { input: SifObjectInput; size: number; offset: number; sizeWithPadding: number }

function badObject(msg: string): SifError {
  return new SifError('SIF_E_IMAGE_BAD_OBJECT', msg);
}

function writeFailed(out: string, what: string, e: unknown): SifError {
  const code = (e as NodeJS.ErrnoException).code;
  const hints: Record<string, string> = {
    ENOSPC: 'the file system is full; free space or write the image elsewhere',
    EDQUOT: 'your disk quota is exhausted; free space or write the image elsewhere',
    EACCES: 'check the permissions of the output directory',
    EROFS: 'the output directory is on a read-only file system',
  };
  const hint = code ? hints[code] : undefined;
  const why = code ?? (e instanceof Error ? e.message : String(e));
  return new SifError('SIF_E_IMAGE_WRITE', `cannot write ${out}: ${what}: ${why}`, { cause: e, ...(hint ? { hint } : {}) });
}

async function sourceSize(out: string, obj: SifObjectInput): Promise<number> {
  if (Buffer.isBuffer(obj.data)) return obj.data.length;
  const src = obj.data;
  const st = await stat(src.path).catch((e: unknown) => {
    throw writeFailed(out, `partition source ${src.path}`, e);
  });
  if (!st.isFile()) throw writeFailed(out, `partition source ${src.path}`, new Error('not a regular file'));
  if (src.offset !== undefined) {
    if (src.size === undefined || src.offset + src.size > st.size)
      throw writeFailed(out, `partition source ${src.path}`, new Error(`has no ${src.size ?? '?'} bytes at offset ${src.offset}`));
    return src.size;
  }
  if (src.size !== undefined && src.size !== st.size) {
    throw writeFailed(out, `partition source ${src.path}`, new Error(`is ${st.size} bytes, expected ${src.size}`));
  }
  return st.size;
}

function checkObjects(objects: SifObjectInput[]): void {
  if (objects.length > SIF_DESCRIPTORS_TOTAL) throw badObject(`a SIF holds at most ${SIF_DESCRIPTORS_TOTAL} objects, got ${objects.length}`);
  let prim = 0;
  objects.forEach((o, i) => {
    if (o.name !== undefined && Buffer.byteLength(o.name) > SIF_NAME_LEN) throw badObject(`SIF object ${i + 1}: name longer than ${SIF_NAME_LEN} bytes`);
    const id = (v: number): boolean => Number.isInteger(v) && v >= 1 && v <= ~SIF_GROUP_MASK >>> 0;
    const g = o.groupId === undefined ? 1 : o.groupId;
    if (g !== null && !id(g)) throw badObject(`SIF object ${i + 1}: bad group ${g}`);
    if (o.link && !id('id' in o.link ? o.link.id : o.link.group)) throw badObject(`SIF object ${i + 1}: bad link ${JSON.stringify(o.link)}`);
    if (o.type === 'signature' && o.fingerprint && o.fingerprint.length > SIF_SIGNATURE_EXTRA.entityLen)
      throw badObject(`SIF object ${i + 1}: a signing key's fingerprint of ${o.fingerprint.length} bytes (at most ${SIF_SIGNATURE_EXTRA.entityLen})`);
    if (o.type !== 'partition') return;
    if (sifArchFromGoArch(o.arch) === null) throw badObject(`SIF object ${i + 1}: unknown architecture "${o.arch}"`);
    if ((o.partType ?? SifPartType.PrimSys) === SifPartType.PrimSys) prim++;
  });
  if (prim > 1) throw badObject(`${prim} primary system partitions given; a SIF has at most one`);
}

/** Offsets per the writer rules; returns the placed objects and the end of data. */
async function layout(out: string, objects: SifObjectInput[]): Promise<{ placed: Placed[]; end: number }> {
  const placed: Placed[] = [];
  let end = SIF_DATA_OFFSET;
  for (const input of objects) {
    const size = await sourceSize(out, input);
    const align = input.type === 'partition' ? SIF_PARTITION_ALIGN : 1;
    const offset = Math.ceil(end / align) * align;
    placed.push({ input, size, offset, sizeWithPadding: offset - end + size });
    end = offset + size;
  }
  return { placed, end };
}

function uuidBytes(id: string): Buffer {
  const hex = id.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw badObject(`not a UUID: "${id}"`);
  return Buffer.from(hex, 'hex');
}

function descriptor(p: Placed, index: number, time: number): Buffer {
  const d = Buffer.alloc(SIF_DESCRIPTOR_SIZE);
  const o = p.input;
  d.writeInt32LE(DATA_TYPES[o.type], SIF_DESC.dataType);
  d.writeUInt8(1, SIF_DESC.used);
  d.writeUInt32LE(index + 1, SIF_DESC.id);
  d.writeUInt32LE((SIF_GROUP_MASK | (o.groupId === undefined ? 1 : (o.groupId ?? 0))) >>> 0, SIF_DESC.groupId);
  if (o.link) d.writeUInt32LE('id' in o.link ? o.link.id : (SIF_GROUP_MASK | o.link.group) >>> 0, SIF_DESC.linkedId);
  d.writeBigInt64LE(BigInt(p.offset), SIF_DESC.offset);
  d.writeBigInt64LE(BigInt(p.size), SIF_DESC.size);
  d.writeBigInt64LE(BigInt(p.sizeWithPadding), SIF_DESC.sizeWithPadding);
  d.writeBigInt64LE(BigInt(time), SIF_DESC.createdAt);
  d.writeBigInt64LE(BigInt(time), SIF_DESC.modifiedAt);
  if (o.name) d.write(o.name, SIF_DESC.name, SIF_NAME_LEN, 'utf8');
  const extra = d.subarray(SIF_DESC.extra, SIF_DESC.extra + SIF_EXTRA_LEN);
  switch (o.type) {
    case 'partition':
      extra.writeInt32LE(o.fsType ?? SifFsType.Squashfs, SIF_PARTITION_EXTRA.fsType);
      extra.writeInt32LE(o.partType ?? SifPartType.PrimSys, SIF_PARTITION_EXTRA.partType);
      extra.write(sifArchFromGoArch(o.arch)!, SIF_PARTITION_EXTRA.arch, 2, 'latin1');
      break;
    case 'signature':
      extra.writeInt32LE(o.hashType, SIF_SIGNATURE_EXTRA.hashType);
      o.fingerprint?.copy(extra, SIF_SIGNATURE_EXTRA.entity);
      break;
    case 'crypto-message':
      extra.writeInt32LE(o.formatType, SIF_CRYPTO_EXTRA.formatType);
      extra.writeInt32LE(o.messageType, SIF_CRYPTO_EXTRA.messageType);
      break;
    case 'sbom':
      extra.writeInt32LE(o.format, SIF_SBOM_EXTRA.format);
      break;
    case 'oci-root-index':
    case 'oci-blob':
      extra.write(`sha256:${createHash('sha256').update(o.data).digest('hex')}`, SIF_OCI_EXTRA.digest, 'latin1');
      break;
  }
  return d;
}

function headerBytes(placed: Placed[], end: number, time: number, id: Buffer, launchScript: string): Buffer {
  const h = Buffer.alloc(SIF_HEADER_SIZE);
  h.write(launchScript, SIF_HEADER.launchScript, SIF_LAUNCH_SCRIPT_LEN, 'utf8');
  SIF_MAGIC.copy(h, SIF_HEADER.magic);
  h.write(SIF_VERSION, SIF_HEADER.version, 2, 'latin1');
  // The header's arch mirrors the primary system partition's ("00" when there is none).
  const prim = placed.find((p) => p.input.type === 'partition' && (p.input.partType ?? SifPartType.PrimSys) === SifPartType.PrimSys);
  const arch = prim?.input.type === 'partition' ? sifArchFromGoArch(prim.input.arch)! : SIF_ARCH_UNKNOWN;
  h.write(arch, SIF_HEADER.arch, 2, 'latin1');
  id.copy(h, SIF_HEADER.id);
  const i64 = (v: number, at: number): void => void h.writeBigInt64LE(BigInt(v), at);
  i64(time, SIF_HEADER.createdAt);
  i64(time, SIF_HEADER.modifiedAt);
  i64(SIF_DESCRIPTORS_TOTAL - placed.length, SIF_HEADER.descriptorsFree);
  i64(SIF_DESCRIPTORS_TOTAL, SIF_HEADER.descriptorsTotal);
  i64(SIF_DESCRIPTORS_OFFSET, SIF_HEADER.descriptorsOffset);
  i64(SIF_DESCRIPTORS_TOTAL * SIF_DESCRIPTOR_SIZE, SIF_HEADER.descriptorsSize);
  i64(SIF_DATA_OFFSET, SIF_HEADER.dataOffset);
  i64(end - SIF_DATA_OFFSET, SIF_HEADER.dataSize);
  return h;
}

async function writeAt(fh: FileHandle, buf: Buffer, pos: number): Promise<void> {
  let done = 0;
  while (done < buf.length) done += (await fh.write(buf, done, buf.length - done, pos + done)).bytesWritten;
}

/** Stream `size` bytes of `src` to `fh` at `pos` with one reusable buffer (partitions can be GBs). */
async function copyFile(out: string, fh: FileHandle, src: string, size: number, pos: number, srcOffset = 0,
  onBytes?: (n: number) => void): Promise<void> {
  let from: FileHandle;
  try {
    from = await open(src, 'r');
  } catch (e) {
    throw writeFailed(out, `partition source ${src}`, e);
  }
  try {
    const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(size, 1)));
    let done = 0;
    while (done < size) {
      const { bytesRead } = await from.read(buf, 0, Math.min(buf.length, size - done), srcOffset + done);
      if (bytesRead === 0) throw writeFailed(out, `partition source ${src}`, new Error(`shrank while copying (${done} of ${size} bytes)`));
      await writeAt(fh, buf.subarray(0, bytesRead), pos + done);
      done += bytesRead;
      onBytes?.(bytesRead);
    }
  } finally {
    await from.close();
  }
}

function imageTimeAndId(opts: WriteSifOptions): { time: number; id: Buffer } {
  const epoch = opts.sourceDateEpoch;
  if (epoch !== undefined && !Number.isSafeInteger(epoch)) throw badObject(`bad SOURCE_DATE_EPOCH: ${epoch}`);
  const reproducible = opts.deterministic || epoch !== undefined;
  const time = opts.deterministic ? SIF_ZERO_TIME : (epoch ?? Math.floor(Date.now() / 1000));
  const id = opts.id !== undefined ? uuidBytes(opts.id) : reproducible ? Buffer.alloc(16) : uuidBytes(randomUUID());
  return { time, id };
}

/** Write `objects` as a SIF at `outPath` (atomically); returns where each object went. */
export async function writeSif(outPath: string, objects: SifObjectInput[], opts: WriteSifOptions = {}): Promise<WriteSifResult> {
  const launchScript = opts.launchScript ?? SIF_DEFAULT_LAUNCH_SCRIPT;
  if (Buffer.byteLength(launchScript) >= SIF_LAUNCH_SCRIPT_LEN) throw badObject(`launch script must be under ${SIF_LAUNCH_SCRIPT_LEN} bytes`);
  checkObjects(objects);
  const { time, id } = imageTimeAndId(opts);
  const { placed, end } = await layout(outPath, objects);

  const tmp = join(dirname(outPath), `.${basename(outPath)}.tmp-${randomBytes(4).toString('hex')}`);
  // 'wx': never clobber a file we did not create (and so must not remove).
  const h = await open(tmp, 'wx', opts.mode ?? 0o755).catch((e: unknown) => {
    throw writeFailed(outPath, `creating ${tmp}`, e);
  });
  let fh: FileHandle | undefined = h;
  try {
    await step(outPath, 'writing data', async () => {
      const total = placed.reduce((n, p) => n + p.size, 0);
      let done = 0;
      const progress = opts.onProgress ? (n: number) => opts.onProgress!((done += n), total) : undefined;
      for (const p of placed) {
        if (Buffer.isBuffer(p.input.data)) {
          await writeAt(h, p.input.data, p.offset);
          progress?.(p.size);
        } else await copyFile(outPath, h, p.input.data.path, p.size, p.offset, p.input.data.offset ?? 0, progress);
      }
      const table = Buffer.alloc(SIF_DESCRIPTORS_TOTAL * SIF_DESCRIPTOR_SIZE);
      placed.forEach((p, i) => descriptor(p, i, time).copy(table, i * SIF_DESCRIPTOR_SIZE));
      await writeAt(h, table, SIF_DESCRIPTORS_OFFSET);
      await writeAt(h, headerBytes(placed, end, time, id, launchScript), 0);
      // Gaps are holes; truncate fixes the length when the last object is empty.
      await h.truncate(end);
      await h.sync();
    });
    await step(outPath, 'closing', () => h.close());
    fh = undefined;
    await step(outPath, `renaming ${tmp}`, () => rename(tmp, outPath));
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dirname(outPath));
  return { path: outPath, fileSize: end, objects: placed.map((p, i) => ({ id: i + 1, offset: p.offset, size: p.size })) };
}

async function step(out: string, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    throw e instanceof SifError ? e : writeFailed(out, what, e);
  }
}

export interface ApptainerObjectsInput {
  /** Definition file text (for docker:// pulls, the synthesized `BootStrap: docker\nFrom: ...`). */
  deffile?: string | Buffer;
  /** JSON.Generic objects by name (INSPECT_METADATA_NAME, OCI_CONFIG_NAME in sif-objects.ts); objects are JSON-encoded. */
  json?: Record<string, Buffer | string | object>;
  /** The squashfs root filesystem. */
  rootfs: Buffer | SifFileSource;
  rootfsName?: string;
  /** Go arch name of the root filesystem. */
  arch: string;
}

/** Apptainer's object order (assemblers/sif.go): Def.FILE, JSON.Generic by name, squashfs PrimSys. */
export function buildApptainerObjects(input: ApptainerObjectsInput): SifObjectInput[] {
  const out: SifObjectInput[] = [];
  if (input.deffile !== undefined) out.push({ type: 'deffile', data: Buffer.from(input.deffile) });
  // Plain code-unit order, as Go's sort.Strings on these ASCII names.
  const names = Object.keys(input.json ?? {}).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const v = input.json![name]!;
    const data = Buffer.isBuffer(v) ? v : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
    out.push({ type: 'generic-json', name, data });
  }
  const name = input.rootfsName ? { name: input.rootfsName } : {};
  out.push({ type: 'partition', ...name, data: input.rootfs, fsType: SifFsType.Squashfs, partType: SifPartType.PrimSys, arch: input.arch });
  return out;
}
