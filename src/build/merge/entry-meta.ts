/**
 * Owner, mode, mtime and xattrs of a tar entry as the squashfs writer takes them.
 * Owners are stored as the image has them (no chown happens anywhere); squashfs
 * keeps whole seconds. xattrs: squashfs stores the user., trusted. and security.
 * namespaces; security.selinux is dropped as `umoci unpack` drops it (host policy,
 * not image content); anything else is dropped with one warning per name.
 */
import type { EntryMeta } from '../../image/squashfs-writer.js';
import { showKey } from './entry-path.js';
import type { TarEntry } from './tar-reader.js';

const STORED = /^(user|trusted|security)\.[^\0]+$/s;
const IGNORED = new Set(['security.selinux']);
const MAX_ID = 0xffffffff;

export class EntryMetaError extends Error {}

export class MetaMaker {
  private readonly warned = new Set<string>();

  constructor(private readonly warn: (msg: string) => void) {}

  /** `key`: the entry's path, for messages. */
  meta(e: TarEntry, key: string, symlink = false): EntryMeta {
    if (!Number.isInteger(e.uid) || e.uid < 0 || e.uid > MAX_ID || !Number.isInteger(e.gid) || e.gid < 0 || e.gid > MAX_ID)
      throw new EntryMetaError(`${showKey(key)} has the owner ${e.uid}:${e.gid}, outside 0..${MAX_ID}`);
    const m: EntryMeta = {
      // A symlink's own mode means nothing on Linux; it is always shown as 0777.
      mode: symlink ? 0o777 : e.mode & 0o7777,
      uid: e.uid,
      gid: e.gid,
      mtime: Math.min(Math.max(e.mtime, 0), MAX_ID),
    };
    if (e.xattrs && e.xattrs.size > 0) {
      let kept: Map<string, Buffer> | undefined;
      for (const [k, v] of e.xattrs) {
        if (STORED.test(k) && !IGNORED.has(k)) (kept ??= new Map()).set(k, v);
        else if (!this.warned.has(k)) {
          this.warned.add(k);
          this.warn(
            IGNORED.has(k)
              ? `dropping the xattr ${k} (first on ${showKey(key)}): it is host policy, not image content`
              : `dropping the xattr ${k} (first on ${showKey(key)}): squashfs stores only user., trusted. and security. xattrs`,
          );
        }
      }
      if (kept) m.xattrs = kept;
    }
    return m;
  }
}
