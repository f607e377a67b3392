/**
 * Read-only access to the files of an OCI layout or a Docker archive, whether they
 * sit in a directory or inside an uncompressed tar file (read in place by offset).
 */
import { createReadStream } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SifError } from '../../errors.js';
import { indexTar, type TarMember } from './tar-index.js';

export interface FileTree {
  /** For messages: the directory or archive. */
  readonly describe: string;
  has(rel: string): boolean | Promise<boolean>;
  /** Whole small files (manifests, configs); refuses ones over `limit` bytes. */
  read(rel: string, limit?: number): Promise<Buffer>;
  open(rel: string): Promise<Readable>;
  size(rel: string): Promise<number>;
  close(): Promise<void>;
}

const SMALL = 64 * 1024 * 1024;

function missing(describe: string, rel: string, cause?: unknown): SifError {
  return new SifError('SIF_E_BUILD_SOURCE', `${describe}: ${rel} is missing`, { cause });
}

function tooBig(describe: string, rel: string, limit: number): SifError {
  return new SifError('SIF_E_BUILD_SOURCE', `${describe}: ${rel} is larger than ${limit} bytes, too large for a manifest or config`);
}

export function directoryTree(dir: string): FileTree {
  const path = (rel: string) => join(dir, rel);
  return {
    describe: dir,
    async has(rel) {
      return stat(path(rel)).then(() => true, () => false);
    },
    async read(rel, limit = SMALL) {
      const st = await stat(path(rel)).catch((e: unknown) => { throw missing(dir, rel, e); });
      if (st.size > limit) throw tooBig(dir, rel, limit);
      return readFile(path(rel));
    },
    async open(rel) {
      const fh = await open(path(rel), 'r').catch((e: unknown) => { throw missing(dir, rel, e); });
      return fh.createReadStream({ highWaterMark: 1 << 20 });
    },
    async size(rel) {
      return (await stat(path(rel)).catch((e: unknown) => { throw missing(dir, rel, e); })).size;
    },
    async close() {},
  };
}

export async function tarTree(file: string): Promise<FileTree> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (cause) {
    throw new SifError('SIF_E_BUILD_SOURCE', `cannot open archive ${file}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, { cause });
  }
  let members: Map<string, TarMember>;
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(2);
    await fh.read(head, 0, 2, 0);
    if (head[0] === 0x1f && head[1] === 0x8b)
      throw new SifError('SIF_E_BUILD_SOURCE', `${file} is gzip-compressed; sif reads archives in place and needs them uncompressed`, {
        hint: `gunzip it first (e.g. gunzip -k ${file})`,
      });
    members = await indexTar(fh, size, file);
  } catch (e) {
    await fh.close();
    throw e;
  }
  const member = (rel: string): TarMember => {
    let m = members.get(rel);
    // Follow in-archive hard links (docker save links identical layers).
    for (let hops = 0; m && m.type === '1' && hops < 8; hops++) m = members.get(m.linkname.replace(/^(\.\/)+/, ''));
    if (!m || (m.type !== '0' && m.type !== '\0' && m.type !== '7')) throw missing(file, rel);
    return m;
  };
  return {
    describe: file,
    has: (rel) => members.has(rel),
    async read(rel, limit = SMALL) {
      const m = member(rel);
      if (m.size > limit) throw tooBig(file, rel, limit);
      const buf = Buffer.alloc(m.size);
      await fh.read(buf, 0, m.size, m.offset);
      return buf;
    },
    async open(rel) {
      const m = member(rel);
      // An empty range cannot be expressed with start/end, so hand out an empty stream.
      if (m.size === 0) return createReadStream('/dev/null');
      return createReadStream(file, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1 << 20 });
    },
    async size(rel) {
      return member(rel).size;
    },
    close: () => fh.close(),
  };
}
