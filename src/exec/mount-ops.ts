/** The closed set of operations the starter knows (native/starter/plan.h). */
export type MountOp =
  | { op: 'mkdir'; dst: string; mode: number }
  | { op: 'bind'; src: string; dst: string; readonly?: boolean; optional?: boolean }
  | { op: 'proc'; dst: string }
  | { op: 'tmpfs'; dst: string; mode: number }
  | { op: 'file'; dst: string; mode: number; data: string }
  | { op: 'merge'; dst: string; mode: number; data: string }
  | { op: 'symlink'; target: string; dst: string }
  | { op: 'readonly'; dst: string };

/** One container per node (native/starter/share.h): where the ranks meet, and under which key. */
export interface ShareRecord {
  /** A directory only the user can enter (the starter makes and checks it). */
  dir: string;
  /** Lower-case hex: names the lock files. */
  key: string;
  /** The image's device and inode (decimal) the key was made for: the starter checks its open file. */
  dev: string;
  ino: string;
  /** How long the container outlives its last rank, waiting for the job's next step (0: not at all). */
  lingerMs: number;
}

export interface LaunchPlan {
  image: string;
  offset: number;
  newPid: boolean;
  writable: boolean;
  /** The FUSE server stores files ahead of a reader walking a listing (store-ahead.c). */
  storeAhead?: boolean;
  /** --no-read-ahead: nothing is read ahead of a reader taking files in order (dir-ahead.c). */
  noReadAhead?: boolean;
  ops: MountOp[];
  cwd: string;
  argv: string[];
  env: Record<string, string>;
  /** Run argv through `shell -c script` when `test` exists in the container. */
  shim?: { test: string; shell: string; script: string };
  /** Share one container with the job step's other ranks on this node. */
  share?: ShareRecord;
}
