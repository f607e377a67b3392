import { EXEC_ADDON_PATH, loadAddon } from '../native-addons.js';

/** The caller's passwd entry and primary group name, from the C library's name service. */
export interface UserEntry {
  uid: number;
  gid: number;
  user: string;
  home: string;
  shell: string;
  gecos: string;
  /** Absent when the group database has no entry for gid. */
  group?: string;
}

/**
 * Asks getpwuid(3) and getgrgid(3), through the exec addon (native/handoff/user-entry.c),
 * which `sif exec` loads anyway: LDAP and sssd users included, and no node:os to load.
 * Null when the user has no entry.
 */
export function userEntry(): UserEntry | null {
  return loadAddon<{ userEntry(): UserEntry | null }>(EXEC_ADDON_PATH, 'SIF_E_STARTER_MISSING').userEntry();
}
