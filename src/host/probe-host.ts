import { realpathSync } from 'node:fs';
import { SifError } from '../errors.js';
import type { HostFacts } from './host-facts.js';
import { userEntry } from './user-entry.js';

/** realpath(3): one system call, where fs.realpathSync walks the path a component at a time. */
function realOr(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

export function probeHost(env: NodeJS.ProcessEnv = process.env): HostFacts {
  const entry = userEntry();
  if (!entry) {
    throw new SifError('SIF_E_HOST', `cannot find your user (uid ${process.getuid?.()}) in the user database`, {
      hint: 'sif needs a passwd entry for the calling user (check NSS/LDAP on this node)',
    });
  }
  let cwd: string;
  try {
    cwd = realpathSync.native(process.cwd());
  } catch {
    cwd = '/';
  }
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return {
    uid: entry.uid,
    gid: entry.gid,
    user: entry.user,
    group: entry.group ?? entry.user,
    home: realOr(entry.home),
    shell: entry.shell || '/bin/sh',
    gecos: entry.gecos,
    cwd,
    env: clean,
  };
}
