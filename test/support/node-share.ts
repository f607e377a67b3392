// What the node-share tests look at from the host, as root: the namespaces a container's
// processes print, the processes in them, which of those serve FUSE, and lock files.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** What a rank prints about its container: `ns rank=R user=... mnt=... usr=<dev of /usr>`. */
export interface RankView {
  rank: string;
  user: string;
  mnt: string;
  usr: string;
}
export const NS_LINE = 'echo "ns rank=$SLURM_PROCID user=$(readlink /proc/self/ns/user) mnt=$(readlink /proc/self/ns/mnt) usr=$(stat -c %d /usr)"';

export function views(stdout: string): RankView[] {
  return [...stdout.matchAll(/^ns rank=(\d+) user=(\S+) mnt=(\S+) usr=(\d+)$/gm)]
    .map((m) => ({ rank: m[1]!, user: m[2]!, mnt: m[3]!, usr: m[4]! }))
    .sort((a, b) => a.rank.localeCompare(b.rank));
}

function pids(): string[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d));
}

export function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Processes in these mount namespaces (a container's, by `mnt:[inode]`). */
export function processesIn(mntNs: ReadonlySet<string>): string[] {
  return pids().filter((p) => mntNs.has(link(`/proc/${p}/ns/mnt`) ?? ''));
}

/** What a process's open files are (their /proc links); none once it has gone. */
export function openFiles(pid: string): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => link(`/proc/${pid}/fd/${fd}`) ?? []);
  } catch {
    return [];
  }
}

/** FUSE servers of these containers: their processes holding /dev/fuse open. */
export function fuseServers(mntNs: ReadonlySet<string>): string[] {
  return processesIn(mntNs).filter((p) => openFiles(p).includes('/dev/fuse'));
}

/** Lock files in a share directory that someone holds (flock -n as root fails on them). */
export function heldLockFiles(dir: string): string[] {
  const files = existsSync(dir) ? readdirSync(dir) : [];
  return files.filter((f) => {
    try {
      execFileSync('flock', ['-n', '-s', join(dir, f), 'true']);
      execFileSync('flock', ['-n', '-x', join(dir, f), 'true']);
      return false;
    } catch {
      return true;
    }
  });
}

export async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
