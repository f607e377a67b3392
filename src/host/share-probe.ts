import { readFileSync, statSync } from 'node:fs';
import type { ShareProbe } from '../exec/node-share.js';

type Crypto = typeof import('node:crypto');
type Os = typeof import('node:os');

/**
 * The host side of planShare. Built only when the launcher's variables ask for
 * sharing: node:crypto and node:os load then, not on every `sif exec`.
 */
export function shareProbe(uid: number): ShareProbe {
  return {
    get ppid() {
      return process.ppid;
    },
    hostname: () => (process.getBuiltinModule('node:os') as Os).hostname(),
    imageIdentity(path) {
      const st = statSync(path, { bigint: true });
      return { dev: st.dev, ino: st.ino, mtimeNs: st.mtimeNs, size: st.size };
    },
    usableRuntimeDir(dir) {
      try {
        const st = statSync(dir);
        return st.isDirectory() && st.uid === uid;
      } catch {
        return false;
      }
    },
    ownCgroups() {
      try {
        return readFileSync('/proc/self/cgroup', 'utf8');
      } catch {
        return ''; // no /proc: no cgroup that could end the container
      }
    },
    sha256: (text) => (process.getBuiltinModule('node:crypto') as Crypto).createHash('sha256').update(text).digest('hex'),
  };
}
