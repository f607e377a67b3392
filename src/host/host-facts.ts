/** What the launch planners need to know about the host: gathered once, at the edge. */
export interface HostFacts {
  uid: number;
  gid: number;
  user: string;
  /** Name of the primary group (the user's name when the group database has none). */
  group: string;
  /** The home directory, symlinks resolved. */
  home: string;
  shell: string;
  gecos: string;
  /** The current directory, symlinks resolved. */
  cwd: string;
  env: Record<string, string>;
}
