// Helpers for the layer-merge tests: a tar writer with full control over the bytes
// (raw non-UTF-8 names, binary pax values, GNU long names, entry order), compressed
// layers, a sink that records what the merge asks for, and `umoci unpack` of the
// same layers as the reference.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { it } from '@jest/globals';
import type { EntryMeta, EntryPath, FileData } from '../../../../src/image/squashfs-writer.js';
import type { MergeLayer, MergeSink } from '../../../../src/build/merge/merge-layers.js';

export const T = 1_700_000_000;

export function run(cmd: string, args: string[], input?: Buffer): Buffer {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 30, input });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr.toString()}`);
  return r.stdout;
}

// ---- tar writing --------------------------------------------------------------------

export type TarKind = 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';
const FLAGS: Record<TarKind, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

export interface TarSpec {
  name: string | Buffer;
  type?: TarKind;
  /** Overrides the typeflag byte (e.g. 'V', '\0'). */
  flag?: string;
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string | Buffer>;
  /** Extra pax records. */
  pax?: Record<string, string | Buffer>;
  /** How a name (or link name) over 100 bytes is stored: pax records (default), GNU 'L'/'K', or the ustar prefix field. */
  long?: 'pax' | 'gnu' | 'prefix';
  /** Header magic: POSIX ustar (default) or GNU. */
  format?: 'ustar' | 'gnu';
  /** Numbers that do not fit in octal are written in GNU base-256. */
  base256?: boolean;
}

const bytes = (v: string | Buffer): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

function octal(h: Buffer, off: number, len: number, v: number, base256: boolean): void {
  const s = v.toString(8);
  if (s.length <= len - 1 && v >= 0) {
    h.write(s.padStart(len - 1, '0'), off, 'latin1');
    h[off + len - 1] = 0;
    return;
  }
  if (!base256) throw new Error(`tar test writer: ${v} does not fit in ${len} bytes`);
  let n = BigInt(v);
  if (n < 0n) n = (1n << BigInt(8 * len)) + n;
  for (let i = len - 1; i >= 1; i--) {
    h[off + i] = Number(n & 0xffn);
    n >>= 8n;
  }
  h[off] = v < 0 ? 0xff : 0x80;
}

function header(fields: { name: Buffer; prefix?: Buffer; flag: string; size: number; mode: number; uid: number; gid: number; mtime: number;
  linkname: Buffer; devmajor: number; devminor: number; format: 'ustar' | 'gnu'; base256: boolean }): Buffer {
  const h = Buffer.alloc(512);
  fields.name.copy(h, 0, 0, Math.min(100, fields.name.length));
  octal(h, 100, 8, fields.mode, fields.base256);
  octal(h, 108, 8, fields.uid, fields.base256);
  octal(h, 116, 8, fields.gid, fields.base256);
  octal(h, 124, 12, fields.size, fields.base256);
  octal(h, 136, 12, fields.mtime, fields.base256);
  h.write(fields.flag, 156, 'latin1');
  fields.linkname.copy(h, 157, 0, Math.min(100, fields.linkname.length));
  h.write(fields.format === 'gnu' ? 'ustar  \0' : 'ustar\x0000', 257, 'latin1');
  octal(h, 329, 8, fields.devmajor, false);
  octal(h, 337, 8, fields.devminor, false);
  if (fields.prefix) fields.prefix.copy(h, 345);
  return fixChecksum(h);
}

/**
 * Recomputes the checksum of the tar header in the first 512 bytes of `h` (after a test
 * patched a field): bytes 148..156 count as spaces, the sum is written in octal. Returns `h`.
 */
export function fixChecksum(h: Buffer): Buffer {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h.subarray(0, 512)) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function meta(flag: string, name: string, data: Buffer, format: 'ustar' | 'gnu'): Buffer {
  return Buffer.concat([
    header({ name: Buffer.from(name), flag, size: data.length, mode: 0o644, uid: 0, gid: 0, mtime: 0, linkname: Buffer.alloc(0),
      devmajor: 0, devminor: 0, format, base256: false }),
    pad(data),
  ]);
}

/** One entry, with its pax or GNU extension headers. */
export function tarEntry(e: TarSpec): Buffer {
  const type = e.type ?? 'file';
  const flag = e.flag ?? FLAGS[type];
  const data = e.data === undefined ? Buffer.alloc(0) : bytes(e.data);
  let name = bytes(e.name);
  if (type === 'dir' && !name.toString('latin1').endsWith('/') && e.long !== 'prefix') name = Buffer.concat([name, Buffer.from('/')]);
  let linkname = e.linkname === undefined ? Buffer.alloc(0) : bytes(e.linkname);
  const format = e.format ?? (e.long === 'gnu' ? 'gnu' : 'ustar');
  const out: Buffer[] = [];
  const pax: Buffer[] = [];
  let prefix: Buffer | undefined;
  for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.push(paxRecord(`SCHILY.xattr.${k}`, bytes(v)));
  for (const [k, v] of Object.entries(e.pax ?? {})) pax.push(paxRecord(k, bytes(v)));
  if (name.length > 100) {
    if (e.long === 'gnu') out.push(meta('L', '././@LongLink', Buffer.concat([name, Buffer.alloc(1)]), 'gnu'));
    else if (e.long === 'prefix') {
      const s = name.toString('latin1');
      let cut = -1;
      for (let i = s.indexOf('/'); i >= 0 && i <= 155; i = s.indexOf('/', i + 1)) if (s.length - i - 1 <= 100) { cut = i; break; }
      if (cut < 0) throw new Error(`tar test writer: ${s} cannot be split into prefix and name`);
      prefix = Buffer.from(s.slice(0, cut), 'latin1');
      name = Buffer.from(s.slice(cut + 1), 'latin1');
    } else pax.push(paxRecord('path', name));
  }
  if (linkname.length > 100) {
    if (e.long === 'gnu') out.push(meta('K', '././@LongLink', Buffer.concat([linkname, Buffer.alloc(1)]), 'gnu'));
    else pax.push(paxRecord('linkpath', linkname));
    linkname = linkname.subarray(0, 100);
  }
  if (pax.length > 0) out.unshift(meta('x', 'PaxHeaders/x', Buffer.concat(pax), 'ustar'));
  out.push(header({ name, prefix, flag, size: data.length, mode: e.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
    uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? T, linkname, devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0, format,
    base256: e.base256 ?? false }));
  out.push(pad(data));
  return Buffer.concat(out);
}

/** A tar archive of `entries`, in order, ended by two zero blocks unless `end` is false. */
export function tarball(entries: (TarSpec | Buffer)[], { end = true } = {}): Buffer {
  return Buffer.concat([...entries.map((e) => (Buffer.isBuffer(e) ? e : tarEntry(e))), end ? Buffer.alloc(1024) : Buffer.alloc(0)]);
}

export const gzip = (b: Buffer): Buffer => gzipSync(b);
/**
 * Whether the zstd command is installed (scripts/setup-host.sh installs it). The unit
 * tier needs no external tool, so the cases that compress with it are left out without
 * it, and jest lists them as skipped under this name.
 */
export const HAVE_ZSTD = spawnSync('zstd', ['--version']).status === 0;
export const zstd = (b: Buffer): Buffer => run('zstd', ['-q', '-c', '-3'], b);
/** Table rows that need zstd: kept only when it is installed, else one skipped test says so. */
export function zstdRows<R extends unknown[]>(rows: () => R[]): R[] {
  if (HAVE_ZSTD) return rows();
  it.skip('the zstd rows of the next table (needs the zstd command)', () => {});
  return [];
}

/** A layer served from memory, in chunks of `chunk` bytes (odd sizes cut headers and data anywhere). */
export function memLayer(name: string, data: Buffer, chunk = 4099): MergeLayer & { opens: number } {
  const layer = {
    name,
    opens: 0,
    async open(): Promise<Readable> {
      layer.opens++;
      const parts: Buffer[] = [];
      for (let o = 0; o < data.length; o += chunk) parts.push(data.subarray(o, o + chunk));
      return Readable.from(parts, { objectMode: false });
    },
  };
  return layer;
}

// ---- a sink that records --------------------------------------------------------------

type Node =
  | { kind: 'dir'; explicit: boolean; meta?: EntryMeta }
  | { kind: 'file' | 'symlink' | 'char' | 'block' | 'fifo'; ino: number; meta: EntryMeta; data?: Buffer; target?: string; dev?: [number, number] };

const keyOf = (p: EntryPath): string =>
  (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)).toString('latin1').split('/').filter((c) => c && c !== '.').join('/');

/** Records the merge's calls, with the same rules as SquashfsWriter (parents implied, no duplicates). */
export class RecordingSink implements MergeSink {
  readonly calls: string[] = [];
  readonly nodes = new Map<string, Node>([['', { kind: 'dir', explicit: false }]]);
  private ino = 0;

  private place(path: EntryPath, node: Node, call: string): void {
    const k = keyOf(path);
    this.calls.push(`${call} ${k}`);
    const parts = k.split('/');
    for (let i = 1; i < parts.length; i++) {
      const pk = parts.slice(0, i).join('/');
      const p = this.nodes.get(pk);
      if (p && p.kind !== 'dir') throw new Error(`sink: ${k}: parent ${pk} is not a directory`);
      if (!p) this.nodes.set(pk, { kind: 'dir', explicit: false });
    }
    if (this.nodes.has(k)) throw new Error(`sink: duplicate entry ${k}`);
    this.nodes.set(k, node);
  }

  async addDirectory(path: EntryPath, meta: EntryMeta): Promise<void> {
    const k = keyOf(path);
    const n = this.nodes.get(k);
    if (n) {
      if (n.kind !== 'dir' || n.explicit) throw new Error(`sink: duplicate entry ${k}`);
      this.calls.push(`addDirectory ${k}`);
      n.explicit = true;
      n.meta = meta;
      return;
    }
    this.place(path, { kind: 'dir', explicit: true, meta }, 'addDirectory');
  }

  async addFile(path: EntryPath, meta: EntryMeta, data: FileData): Promise<void> {
    const parts: Buffer[] = [];
    if (data instanceof Uint8Array) parts.push(Buffer.from(data));
    else for await (const c of data as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c));
    this.place(path, { kind: 'file', ino: ++this.ino, meta, data: Buffer.concat(parts) }, 'addFile');
  }

  async addSymlink(path: EntryPath, target: EntryPath, meta: EntryMeta): Promise<void> {
    const t = (typeof target === 'string' ? Buffer.from(target) : Buffer.from(target)).toString('latin1');
    this.place(path, { kind: 'symlink', ino: ++this.ino, meta, target: t }, 'addSymlink');
  }

  async addDevice(path: EntryPath, kind: 'char' | 'block', major: number, minor: number, meta: EntryMeta): Promise<void> {
    this.place(path, { kind, ino: ++this.ino, meta, dev: [major, minor] }, 'addDevice');
  }

  async addFifo(path: EntryPath, meta: EntryMeta): Promise<void> {
    this.place(path, { kind: 'fifo', ino: ++this.ino, meta }, 'addFifo');
  }

  async addHardlink(path: EntryPath, target: EntryPath): Promise<void> {
    const t = this.nodes.get(keyOf(target));
    if (!t || t.kind === 'dir') throw new Error(`sink: hard link ${keyOf(path)}: bad target ${keyOf(target)}`);
    this.place(path, t, `addHardlink(${keyOf(target)})`);
  }

  /** Unlinks the path and all below it (a hard-linked inode stays with its other names). */
  async remove(path: EntryPath): Promise<boolean> {
    const k = keyOf(path);
    this.calls.push(`remove ${k}`);
    if (!this.nodes.has(k)) return false;
    for (const other of [...this.nodes.keys()]) if (other === k || other.startsWith(`${k}/`)) this.nodes.delete(other);
    return true;
  }

  /** path -> one line: type, mode, owner, mtime, content or target, xattrs; hard-linked names end with "=<first name>". */
  tree(): Record<string, string> {
    const first = new Map<number, string>();
    const count = new Map<number, number>();
    const keys = [...this.nodes.keys()].sort();
    for (const k of keys) {
      const n = this.nodes.get(k) as Node;
      if (n.kind !== 'dir') {
        if (!first.has(n.ino)) first.set(n.ino, k);
        count.set(n.ino, (count.get(n.ino) ?? 0) + 1);
      }
    }
    const out: Record<string, string> = {};
    for (const k of keys) {
      const n = this.nodes.get(k) as Node;
      const m = n.meta;
      const attrs = m ? ` ${m.mode.toString(8).padStart(4, '0')} ${m.uid}:${m.gid} @${m.mtime - T}${xattrText(m)}` : ' implied';
      let line = `${n.kind}${attrs}`;
      if (n.kind === 'file') line += ` ${JSON.stringify((n.data as Buffer).toString('latin1'))}`;
      if (n.kind === 'symlink') line += ` -> ${n.target}`;
      if (n.kind === 'char' || n.kind === 'block') line += ` ${n.dev?.join(',')}`;
      if (n.kind !== 'dir' && (count.get(n.ino) ?? 0) > 1) line += ` =${first.get(n.ino)}`;
      out[k === '' ? '.' : k] = line;
    }
    return out;
  }
}

function xattrText(m: EntryMeta): string {
  if (!m.xattrs) return '';
  const entries = m.xattrs instanceof Map ? [...m.xattrs] : Object.entries(m.xattrs);
  return entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => ` ${k}=${Buffer.from(v as Uint8Array).toString('hex')}`).join('');
}

// ---- umoci as the reference ----------------------------------------------------------

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Writes an OCI layout with `layers` (gzip'd tars, bottom first) under `dir`/layout and
 * unpacks it with `umoci unpack` (as root: owners, devices and xattrs applied) into
 * `dir`/bundle; returns the rootfs path.
 */
export async function umociUnpack(dir: string, tars: Buffer[]): Promise<string> {
  const layout = join(dir, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (b: Buffer): Promise<{ digest: string; size: number }> => {
    const h = sha(b);
    await writeFile(join(blobs, h), b);
    return { digest: `sha256:${h}`, size: b.length };
  };
  const layerDescs = [];
  for (const t of tars) layerDescs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(gzip(t))) });
  const config = await put(Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {},
    rootfs: { type: 'layers', diff_ids: tars.map((t) => `sha256:${sha(t)}`) },
    history: tars.map(() => ({ created: '2023-11-14T22:13:20Z' })),
  })));
  const manifest = await put(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: layerDescs,
  })));
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  }));
  const bundle = join(dir, 'bundle');
  run('umoci', ['--log', 'error', 'unpack', '--image', `${layout}:latest`, bundle]);
  return join(bundle, 'rootfs');
}
