import { isAbsolute, normalize } from 'node:path';
import { SifError } from '../errors.js';
import type { LaunchPlan, ShareRecord } from './mount-ops.js';
import { PLAN_VERSION } from './plan-encoding.js';
import { pmixServerDirs } from './pmix-server-dirs.js';

/**
 * One container per node: ranks of one job step on one node, launched with the same
 * image and the same mounts, share one container (one FUSE server, one page cache, one
 * user namespace, so that Cross Memory Attach works between them). Under SLURM the
 * container also lingers a short while after its last rank, so that the job's next
 * step joins it (its caches warm). The starter does the meeting and the lingering
 * (native/starter/share.c); this decides whether to share, for how long, and under
 * which key.
 */

/** --share-linger's default: long enough for a batch script's next `srun`, short enough to cost nothing. */
export const DEFAULT_LINGER_MS = 10_000;
/** The longest window accepted: a container left for longer is no longer a step's. */
const MAX_LINGER_S = 3600;

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
  /** /proc/self/cgroup: read only to decide whether a container may outlive its step. */
  ownCgroups(): string;
}

/** --share-linger / SIF_SHARE_LINGER in seconds (a decimal number) to milliseconds. */
export function parseShareLinger(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LINGER_MS;
  const s = value.trim();
  const ms = /^\d+(\.\d+)?$/.test(s) ? Math.round(Number(s) * 1000) : NaN;
  if (!(ms <= MAX_LINGER_S * 1000)) {
    throw new SifError('SIF_E_USAGE', `--share-linger (or SIF_SHARE_LINGER) expects seconds from 0 to ${MAX_LINGER_S}, got '${value}'`, {
      hint: 'e.g. --share-linger 10; 0 ends the container with its last rank',
    });
  }
  return ms;
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

/**
 * Whether this process is in a cgroup of its SLURM step (proctrack/cgroup, task/cgroup:
 * `.../job_<id>/step_<step>/...`): slurmstepd kills or removes that cgroup when the step
 * ends, so nothing started in it can outlive the step without a daemon.
 */
export function inStepCgroup(cgroups: string, job: string): boolean {
  return cgroups.split('\n').some((line) => line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1).includes(`/job_${job}/step_`));
}

/**
 * A container that is its step's alone: with storage of its own (a tmpfs,
 * --writable-tmpfs), it would carry one step's files into the next; with a mount of the
 * step's own (the PMIx server's directory under srun --mpi=pmix, pmix.<job>.<step>), no
 * later step could use it (its key would differ), so waiting would be for nothing.
 */
function isTheSteps(plan: Pick<LaunchPlan, 'writable' | 'ops'>, env: Readonly<Record<string, string>>): boolean {
  const stepDirs = pmixServerDirs(env);
  return plan.writable || plan.ops.some((o) => o.op === 'tmpfs' || (o.op === 'bind' && stepDirs.includes(o.src)));
}

/** Who shares: `id` names the job (lingering) or the step (not); `lingerMs` is 0 for a step. */
export interface ShareScope {
  id: string;
  lingerMs: number;
}

/**
 * Under SLURM, with a window asked for, the container is the job's: every step of the
 * job on the node that runs the same image with the same mounts joins it while it lives
 * or lingers, one after the other or at once. Not where the step's cgroup would kill it
 * at the step's end, nor for a container that is the step's alone (isTheSteps): those
 * stay the step's (jobStepId), and end with its last rank.
 */
function shareScope(
  env: Readonly<Record<string, string>>,
  ppid: number,
  lingerMs: number,
  plan: Pick<LaunchPlan, 'writable' | 'ops'>,
  cgroups: () => string,
): ShareScope | undefined {
  const job = env['SLURM_JOB_ID'];
  if (lingerMs > 0 && job && !isTheSteps(plan, env) && !inStepCgroup(cgroups(), job)) return { id: `slurm-job=${job}`, lingerMs };
  const step = jobStepId(env, ppid);
  return step === undefined ? undefined : { id: step, lingerMs: 0 };
}

/** $XDG_RUNTIME_DIR/sif (per user, per node, emptied at logout), else /tmp/sif-<uid>. */
export function shareDir(env: Readonly<Record<string, string>>, uid: number, usable: (dir: string) => boolean): string {
  const xdg = env['XDG_RUNTIME_DIR'];
  if (xdg && isAbsolute(xdg) && usable(xdg)) return `${normalize(xdg).replace(/\/+$/, '')}/sif`;
  return `/tmp/sif-${uid}`;
}

/**
 * What two ranks must agree on to share: the job (lingering) or step, node and user, the
 * window, the image (path, offset, identity) and everything that shapes the container
 * (mounts, --writable-tmpfs) or serves it (--store-ahead, --no-read-ahead). Not the command,
 * environment or working directory: those are each rank's own.
 */
export function shareKeyText(scope: ShareScope, host: string, uid: number, plan: Pick<LaunchPlan, 'image' | 'offset' | 'writable' | 'ops' | 'storeAhead' | 'noReadAhead'>, image: ImageIdentity): string {
  const id = [image.dev, image.ino, image.mtimeNs, image.size].map(String);
  const storeAhead = plan.storeAhead === true;
  const readAhead = plan.noReadAhead !== true;
  return JSON.stringify(['sif-share/3', PLAN_VERSION, scope.id, scope.lingerMs, host, uid, plan.image, plan.offset, id, plan.writable, storeAhead, readAhead, plan.ops]);
}

/** The plan's share record, or undefined for a container of its own. */
export function planShare(
  plan: LaunchPlan,
  noShare: boolean,
  lingerMs: number,
  uid: number,
  env: Readonly<Record<string, string>>,
  probe: ShareProbe,
): ShareRecord | undefined {
  // With --pid each rank has its own PID namespace: ranks in one container must see
  // each other's pids (CMA addresses a peer by its pid).
  if (noShare || plan.newPid) return undefined;
  const scope = shareScope(env, probe.ppid, lingerMs, plan, () => probe.ownCgroups());
  if (scope === undefined) return undefined;
  const image = probe.imageIdentity(plan.image);
  const key = probe.sha256(shareKeyText(scope, probe.hostname(), uid, plan, image)).slice(0, 32);
  return { dir: shareDir(env, uid, probe.usableRuntimeDir), key, dev: String(image.dev), ino: String(image.ino), lingerMs: scope.lingerMs };
}
