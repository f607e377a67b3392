/**
 * Names of in-flight files in the cache: `.tmp.<hex>.<pid>.<random>.<host>`, in the
 * directory of their final name (so the rename is atomic). The name says who writes
 * it, so `sif cache clean` can tell a live download from one a crash left behind.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { processAlive } from './file-lock.js';

const PREFIX = '.tmp.';
/** A temp file from another host is left alone for this long (its writer may still run). */
const FOREIGN_TEMP_MS = 24 * 3600_000;

export function tempName(base: string): string {
  return `${PREFIX}${base}.${process.pid}.${randomBytes(4).toString('hex')}.${hostname()}`;
}

export function isTempName(name: string): boolean {
  return name.startsWith(PREFIX);
}

/** Whether the writer of temp file `name` (modified at mtimeMs) may still be writing it. */
export function tempIsLive(name: string, mtimeMs: number): boolean {
  const parts = name.slice(PREFIX.length).split('.');
  const pid = Number(parts[1]);
  const host = parts.slice(3).join('.');
  if (host === hostname() && Number.isInteger(pid) && pid > 0) return processAlive(pid);
  return Date.now() - mtimeMs < FOREIGN_TEMP_MS;
}
