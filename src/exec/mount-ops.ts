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

export interface LaunchPlan {
  image: string;
  offset: number;
  newPid: boolean;
  writable: boolean;
  ops: MountOp[];
  cwd: string;
  argv: string[];
  env: Record<string, string>;
  /** Run argv through `shell -c script` when `test` exists in the container. */
  shim?: { test: string; shell: string; script: string };
}
