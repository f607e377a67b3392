/**
 * The cache's memory of tag resolutions: `registry/repo:tag` → the manifest (or
 * index) digest the registry last answered. One small JSON file per tag, named by
 * the hash of the reference and replaced atomically, so concurrent builds never
 * corrupt each other's records. Lets a build run offline from cached blobs.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempName } from './temp-files.js';

export interface TagRecord {
  /** `registry/repository:tag`, normalised. */
  reference: string;
  digest: string;
  mediaType: string;
  /** ISO time of the registry's answer. */
  resolvedAt: string;
}

function fileName(reference: string): string {
  return `${createHash('sha256').update(reference).digest('hex')}.json`;
}

export class TagIndex {
  constructor(readonly dir: string) {}

  async get(reference: string): Promise<TagRecord | null> {
    try {
      const rec = JSON.parse(await readFile(join(this.dir, fileName(reference)), 'utf8')) as TagRecord;
      return rec.reference === reference && typeof rec.digest === 'string' ? rec : null;
    } catch {
      return null;
    }
  }

  async set(rec: TagRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, tempName('tag'));
    try {
      await writeFile(tmp, `${JSON.stringify(rec)}\n`);
      await rename(tmp, join(this.dir, fileName(rec.reference)));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async list(): Promise<TagRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const recs: TagRecord[] = [];
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      try {
        recs.push(JSON.parse(await readFile(join(this.dir, n), 'utf8')) as TagRecord);
      } catch {
        // A record being replaced right now: skip it.
      }
    }
    return recs.sort((a, b) => a.reference.localeCompare(b.reference));
  }
}
