/**
 * Turns synthetic entries (the /.singularity.d metadata, mount points) into a small
 * plain tar layer, so the merge treats them exactly like the image's own layers.
 */
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { SyntheticEntry } from './singularity-d.js';

export interface SyntheticLayer {
  name: string;
  open(): Promise<Readable>;
}

export async function tarOf(entries: readonly SyntheticEntry[], mtime: Date): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    const common = { name, mode: e.mode, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === 'file') pack.entry({ ...common, type: 'file' }, Buffer.from(e.data ?? '', 'utf8'), done);
      else if (e.type === 'dir') pack.entry({ ...common, type: 'directory' }, done);
      else pack.entry({ ...common, type: 'symlink', linkname: e.data ?? '' }, done);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

export async function syntheticLayer(name: string, entries: readonly SyntheticEntry[], mtime: Date): Promise<SyntheticLayer> {
  const bytes = await tarOf(entries, mtime);
  return { name, open: async () => Readable.from([bytes]) };
}
