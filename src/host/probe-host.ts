import { readFileSync, realpathSync } from 'node:fs';
import { type UserInfo, userInfo } from 'node:os';
import { SifError } from '../errors.js';
import type { HostFacts } from './host-facts.js';

/** Field `index` of the line of a colon-separated database whose field `keyIndex` is `key`. */
function lookup(file: string, keyIndex: number, key: string, index: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[keyIndex] === key) return fields[index];
  }
  return undefined;
}

/** realpath(3): one system call, where fs.realpathSync walks the path a component at a time. */
function realOr(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

export function probeHost(env: NodeJS.ProcessEnv = process.env): HostFacts {
  let info: UserInfo<string>;
  try {
    info = userInfo({ encoding: 'utf8' });
  } catch (cause) {
    throw new SifError('SIF_E_HOST', `cannot find your user (uid ${process.getuid?.()}) in the user database`, {
      cause,
      hint: 'sif needs a passwd entry for the calling user (check NSS/LDAP on this node)',
    });
  }
  const gid = process.getgid?.() ?? info.gid;
  let cwd: string;
  try {
    cwd = realpathSync.native(process.cwd());
  } catch {
    cwd = '/';
  }
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return {
    uid: process.getuid?.() ?? info.uid,
    gid,
    user: info.username,
    group: lookup('/etc/group', 2, String(gid), 0) ?? info.username,
    home: realOr(info.homedir),
    shell: info.shell ?? '/bin/sh',
    gecos: lookup('/etc/passwd', 0, info.username, 4) ?? '',
    cwd,
    env: clean,
  };
}
