/**
 * What --mpi passes from the host besides the MPI library: the launcher's and the
 * interconnect's variables (also under --cleanenv), the site's variables, and the
 * host paths ranks and their libraries meet at. Pure: the host comes in as facts.
 */
import { LAUNCHER_PREFIXES } from '../exec/environment.js';
import type { MountOp } from '../exec/mount-ops.js';
import type { MpiHostFacts } from '../host/mpi-host-facts.js';
import type { SiteConfig } from '../host/site-config.js';
import { BIND_VARIABLE } from './discover-mpi.js';

/** Variables --mpi passes even with --cleanenv: the launcher's (always passed) and the interconnect's. */
export const MPI_PREFIXES = [...LAUNCHER_PREFIXES, 'UCX_', 'FI_'];

/** Where munged listens, in this order (the first that exists is bound). */
const MUNGE_DIRS = ['/run/munge', '/var/run/munge'];

export interface PassRequest {
  contain: boolean;
  cleanenv: boolean;
  /** The container's environment as planned, which the host's values do not override. */
  containerEnv: Record<string, string>;
  uid: number;
}

export interface PassThrough {
  env: Record<string, string>;
  ops: MountOp[];
  notes: string[];
  warnings: string[];
}

const rw = (path: string): MountOp => ({ op: 'bind', src: path, dst: path, optional: true });

export function mpiPassThrough(req: PassRequest, facts: MpiHostFacts, site: SiteConfig): PassThrough {
  const out: PassThrough = { env: {}, ops: [], notes: [], warnings: [] };
  const env = facts.env;
  if (req.cleanenv) {
    const passed = Object.keys(env).filter((k) => MPI_PREFIXES.some((p) => k.startsWith(p)) && !(k in req.containerEnv));
    for (const k of passed) out.env[k] = env[k]!;
    out.notes.push(`--cleanenv: ${passed.length} variables of ${MPI_PREFIXES.map((p) => `${p}*`).join(' ')} passed`);
  } else {
    out.notes.push(`variables ${MPI_PREFIXES.map((p) => `${p}*`).join(' ')} pass with the host environment`);
  }
  for (const [k, v] of Object.entries(site.mpiEnv)) {
    out.env[k] = v;
    out.notes.push(`${k}=${v} (site file 'mpi env')`);
  }

  // Shared memory between ranks and the launcher: the host's /dev/shm, also where --contain makes a private one.
  if (req.contain) {
    out.ops.push(rw('/dev/shm'));
    out.notes.push("/dev/shm: the host's (--contain would make a private one: ranks could not map each other's segments)");
    for (const d of ['/dev/infiniband', ...(facts.libraries.listDirectory('/dev') ?? []).filter((n) => /^(hfi1|cxi)/.test(n)).sort().map((n) => `/dev/${n}`)]) {
      if (facts.kind(d) === undefined) continue;
      out.ops.push(rw(d));
      out.notes.push(`interconnect device ${d}`);
    }
    // Slurm's client directory for PMIx (Open MPI 5 keeps its session there), under the node's TmpFS.
    const job = env.SLURM_JOB_ID;
    const step = env.SLURM_STEP_ID ?? env.SLURM_STEPID;
    if (job && step) {
      const dir = `${env.SLURM_PMIX_TMPDIR || '/tmp'}/spmix_appdir_${req.uid}_${job}.${step}`;
      if (facts.kind(dir) === 'dir') {
        out.ops.push(rw(dir));
        out.notes.push(`PMIx client directory ${dir}`);
      }
    }
  } else {
    out.notes.push("/dev (with /dev/shm and interconnect devices) and /tmp are the host's already");
  }
  const munge = MUNGE_DIRS.find((d) => facts.kind(d) === 'dir');
  if (munge) {
    out.ops.push(rw(munge));
    out.notes.push(`munge socket directory ${munge}`);
  }
  const extra = [...site.mpiBinds.map((p) => ({ p, from: "site file 'mpi bind'" })), ...(env[BIND_VARIABLE] ?? '').split(',').filter(Boolean).map((p) => ({ p, from: BIND_VARIABLE }))];
  for (const { p, from } of extra) {
    if (!p.startsWith('/')) {
      out.warnings.push(`--mpi: ${from} names '${p}', not an absolute path: not bound`);
    } else if (facts.kind(p) === undefined) {
      out.warnings.push(`--mpi: ${from} names ${p}, which does not exist on this host: not bound`);
    } else {
      out.ops.push(rw(p));
      out.notes.push(`${p} (${from})`);
    }
  }
  return out;
}
