/**
 * --mpi for a launch and for `sif doctor --mpi`: reads the host and the image (lazily),
 * plans, and returns what to add or what to print. Loaded only with --mpi
 * (src/cli/load-mpi.ts), from its own bundle, so `sif exec` without it pays nothing.
 */
import { closeSync, openSync } from 'node:fs';
import type { ContributionContext, LaunchContribution } from '../exec/launch-contribution.js';
import type { HostRecord } from '../host/host-record.js';
import type { MpiHostFacts } from '../host/mpi-host-facts.js';
import { probeMpiHost } from '../host/probe-mpi-host.js';
import { imageLibraries } from '../image/image-libraries.js';
import type { ImageInfo } from '../image/open-image.js';
import { SquashfsReader } from '../image/squashfs-reader.js';
import { cachedHostClosure } from './closure-cache.js';
import type { CommandContext } from './command-need.js';
import { cachedVerdict } from './plan-cache.js';
import { type MpiPlan, type MpiRequest, planMpiLibraries, withPassThrough } from './plan-mpi.js';
import { userCacheDir } from './user-cache.js';

export interface MpiLaunchRequest {
  image: ImageInfo;
  contain: boolean;
  cleanenv: boolean;
  uid: number;
}

/**
 * The plan; `keep`: take the verdict from the user's cache and keep it there
 * (plan-cache.ts). The image is opened only when the verdict must be computed.
 */
function plan(req: MpiLaunchRequest, hostEnv: Record<string, string>, ctx: ContributionContext, keep: boolean): MpiPlan {
  const host = probeMpiHost(hostEnv);
  const request: MpiRequest = { contain: req.contain, cleanenv: req.cleanenv, uid: req.uid, command: { argv: ctx.argv, env: ctx.env, cwd: ctx.cwd, hostPathOf: ctx.hostPathOf } };
  const dir = userCacheDir(hostEnv, req.uid);
  const compute = (command: CommandContext, hf: MpiHostFacts, record?: HostRecord): MpiPlan => {
    const fd = openSync(req.image.path, 'r');
    try {
      const reader = new SquashfsReader({ fd, offset: req.image.rootfsOffset, superblock: req.image.superblock, file: req.image.path });
      return planMpiLibraries(command, {
        host: hf,
        image: imageLibraries(reader, req.image.path),
        // The unrecorded host: the closure records its reads itself, into `record` too.
        closure: (starts) => cachedHostClosure(starts, host, req.uid, dir, record),
      });
    } finally {
      closeSync(fd);
    }
  };
  const verdict = keep ? cachedVerdict(request.command, req.image, host, req.uid, dir, compute) : compute(request.command, host);
  return withPassThrough(verdict, request, host);
}

/**
 * The contribution to a launch; a refusal is thrown, before anything is bound. `say`
 * hears every decision first (--verbose), those that led to a refusal too.
 */
export function mpiForLaunch(req: MpiLaunchRequest, hostEnv: Record<string, string>, ctx: ContributionContext, say: (note: string) => void = () => {}): LaunchContribution {
  const p = plan(req, hostEnv, ctx, true);
  for (const n of p.notes) say(n);
  if (p.refusal) throw p.refusal;
  return { libraries: p.libraries, libraryOrder: 'first', ops: p.ops, env: p.env, warnings: p.warnings };
}

/**
 * `sif doctor --mpi IMAGE [COMMAND...]`: every decision as text, and whether --mpi would
 * go on. Worked out afresh (the host closure may still come from its cache), as one
 * asks a doctor when something is wrong.
 */
export function mpiDoctor(req: MpiLaunchRequest, hostEnv: Record<string, string>, ctx: ContributionContext): { text: string; ok: boolean } {
  const p = plan(req, hostEnv, ctx, false);
  const lines = ['sif doctor --mpi', ...p.notes.map((n) => `  ${n}`)];
  for (const w of p.warnings) lines.push(`  warning: ${w}`);
  if (p.refusal) {
    lines.push(`verdict: --mpi refuses this command (${p.refusal.code})`);
    if (p.refusal.hint) lines.push(`  hint: ${p.refusal.hint}`);
  } else {
    lines.push(`verdict: --mpi would bind ${p.libraries.length} libraries and ${p.ops.length} paths`);
  }
  return { text: `${lines.join('\n')}\n`, ok: !p.refusal };
}
