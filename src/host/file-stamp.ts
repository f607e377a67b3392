import { statSync } from 'node:fs';

/**
 * The identity of what path names, through symlinks: dev:ino:size:mtime:ctime (ns), or
 * '-' when absent. A file replaced, rewritten, renamed over or chmod'ed gets another.
 */
export function fileStamp(path: string): string {
  const s = statSync(path, { bigint: true, throwIfNoEntry: false });
  return s ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` : '-';
}
