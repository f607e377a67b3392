import { isAbsolute, normalize } from 'node:path';
import type { LaunchPlan, ShareRecord } from './mount-ops.js';
import { PLAN_VERSION } from './plan-encoding.js';

/**
 * One container per node: ranks of one job step on one node, launched with the same
 * image and the same mounts, share one container (one FUSE server, one page cache, one
 * user namespace, so that Cross Memory Attach works between them). The starter does
 * the meeting (native/starter/share.c); this decides whether to share and under which key.
 */

/** What identifies the image file: a file replaced or rewritten gets a new key. */
export interface ImageIdentity {
  dev: bigint;
  ino: bigint;
  mtimeNs: bigint;
  size: bigint;
}

/** Host facts the decision needs, read only when the launcher's variables say to share. */
export interface ShareProbe {
  /** The parent process: with MPICH's hydra, the proxy that started this node's ranks. */
  ppid: number;
  hostname(): string;
  imageIdentity(path: string): ImageIdentity;
  /** Whether $XDG_RUNTIME_DIR is a directory of the caller's. */
  usableRuntimeDir(dir: string): boolean;
  sha256(text: string): string;
}

/**
 * The job step as its launcher names it, the same in every rank of the step; undefined
 * without a launcher, or when this node runs the step's only rank (nothing to share).
 * SLURM: job and step ids. Open MPI's mpirun: its PMIx namespace (PMIX_NAMESPACE is
 * part of the id whenever set: two mpiruns in one batch step have two). MPICH's hydra:
 * its ranks on a node are children of one proxy, which names no job, so the parent's
 * pid (and PMI_PORT when set) stands for it.
 */
export function jobStepId(env: Readonly<Record<string, string>>, ppid: number): string | undefined {
  const parts: string[] = [];
  const slurm = env['SLURM_JOB_ID'] && env['SLURM_STEP_ID'];
  if (slurm) parts.push(`slurm=${env['SLURM_JOB_ID']}.${env['SLURM_STEP_ID']}`);
  const ompi = !!env['OMPI_COMM_WORLD_SIZE'] && !!env['PMIX_NAMESPACE'];
  if (env['PMIX_NAMESPACE'] && (slurm || ompi)) parts.push(`pmix=${env['PMIX_NAMESPACE']}`);
  const hydra = !!env['PMI_RANK'] && !!env['MPI_LOCALNRANKS'];
  if (hydra) parts.push(`hydra=${env['PMI_PORT'] ?? ''}/${ppid}`);
  if (!slurm && !ompi && !hydra) return undefined;
  const local = env['OMPI_COMM_WORLD_LOCAL_SIZE'] ?? env['MPI_LOCALNRANKS'] ?? (slurm ? env['SLURM_STEP_NUM_TASKS'] : undefined);
  return local === '1' ? undefined : parts.join(' ');
}

/** $XDG_RUNTIME_DIR/sif (per user, per node, emptied at logout), else /tmp/sif-<uid>. */
export function shareDir(env: Readonly<Record<string, string>>, uid: number, usable: (dir: string) => boolean): string {
  const xdg = env['XDG_RUNTIME_DIR'];
  if (xdg && isAbsolute(xdg) && usable(xdg)) return `${normalize(xdg).replace(/\/+$/, '')}/sif`;
  return `/tmp/sif-${uid}`;
}

/**
 * What two ranks must agree on to share: the job step, node and user, the image (path,
 * offset, identity) and everything that shapes the container (mounts, --writable-tmpfs).
 * Not the command, environment or working directory: those are each rank's own.
 */
export function shareKeyText(job: string, host: string, uid: number, plan: Pick<LaunchPlan, 'image' | 'offset' | 'writable' | 'ops'>, image: ImageIdentity): string {
  const id = [image.dev, image.ino, image.mtimeNs, image.size].map(String);
  return JSON.stringify(['sif-share/1', PLAN_VERSION, job, host, uid, plan.image, plan.offset, id, plan.writable, plan.ops]);
}

/** The plan's share record, or undefined for a container of its own. */
export function planShare(plan: LaunchPlan, noShare: boolean, uid: number, env: Readonly<Record<string, string>>, probe: ShareProbe): ShareRecord | undefined {
  // With --pid each rank has its own PID namespace: ranks in one container must see
  // each other's pids (CMA addresses a peer by its pid).
  if (noShare || plan.newPid) return undefined;
  const job = jobStepId(env, probe.ppid);
  if (job === undefined) return undefined;
  const image = probe.imageIdentity(plan.image);
  const key = probe.sha256(shareKeyText(job, probe.hostname(), uid, plan, image)).slice(0, 32);
  return { dir: shareDir(env, uid, probe.usableRuntimeDir), key, dev: String(image.dev), ino: String(image.ino) };
}
