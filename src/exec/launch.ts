import { readFileSync } from 'node:fs';
import { SifError } from '../errors.js';
import type { HostFacts } from '../host/host-facts.js';
import { canonicalHostPath, ensureDirs, existingHostPath } from '../host/paths.js';
import { checkArch, type ImageInfo, imageInfo } from '../image/open-image.js';
import { withImageFd } from '../image/sif-reader.js';
import { type OciImageConfig, readSifJson, OCI_CONFIG_NAME } from '../image/sif-objects.js';
import { parseBinds } from './bind-spec.js';
import { buildEnvironment, parseEnvFile } from './environment.js';
import { handOff } from './handoff.js';
import { combineContributions, type Contributor } from './launch-contribution.js';
import { type LaunchRequest, planLaunch, workdirLayout } from './launch-plan.js';
import type { LaunchPlan, MountOp } from './mount-ops.js';
import { planShare, type ShareProbe } from './node-share.js';
import { encodePlan } from './plan-encoding.js';
import { shareProbe } from '../host/share-probe.js';

/** What the user asked for with `sif exec|run|shell` (flags already merged with SIF_* variables). */
export interface ActionOptions {
  bind: string[];
  contain: boolean;
  cleanenv: boolean;
  env: string[];
  /** --env-file options, in order: later files win. */
  envFiles: string[];
  pwd?: string;
  home?: string;
  noHome: boolean;
  workdir?: string;
  writableTmpfs: boolean;
  pid: boolean;
  /** --nv: bind the host's NVIDIA driver. */
  nv: boolean;
  /** --mpi: bind the host's MPI library and what it loads. */
  mpi: boolean;
  /** --no-share: a container of its own even for a rank of a job step (see node-share.ts). */
  noShare: boolean;
  /** --share-linger in ms: how long a shared container waits for the job's next step. */
  shareLingerMs: number;
  /** --store-ahead: files read in listing order pushed into the page cache ahead of the reader. */
  storeAhead?: boolean;
  /** --no-read-ahead: no files read ahead of a reader taking them in order. */
  noReadAhead?: boolean;
}

export interface OpenedImage {
  info: ImageInfo;
  ociConfig: OciImageConfig | null;
}

/** The image and its OCI config (SIF images only), checked for this host's architecture. */
export function openForLaunch(path: string): OpenedImage {
  return withImageFd(path, (fd, size) => {
    const info = imageInfo(fd, size, path);
    checkArch(info);
    const ociConfig = info.sif ? (readSifJson(fd, info.sif, OCI_CONFIG_NAME) as OciImageConfig | null) : null;
    return { info, ociConfig };
  });
}

function parseEnvFlags(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    for (const entry of value.split(',')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw new SifError('SIF_E_USAGE', `--env expects KEY=VALUE, got '${entry}'`);
      out[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
  }
  return out;
}

function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new SifError('SIF_E_ENV_FILE', `cannot read the env file '${path}'`, { cause });
  }
  return parseEnvFile(text, path);
}

/** The host path a container path shows through the plan's binds (the deepest that covers it). */
function hostPathVia(ops: readonly MountOp[], path: string): string | undefined {
  let best: { src: string; dst: string } | undefined;
  for (const o of ops) {
    if (o.op !== 'bind' || ['/proc', '/sys', '/dev'].includes(o.dst)) continue;
    const under = path === o.dst || path.startsWith(o.dst === '/' ? '/' : `${o.dst}/`);
    if (under && (!best || o.dst.length > best.dst.length)) best = o;
  }
  return best && best.src + path.slice(best.dst.length);
}

/**
 * Turns options into a plan, touching the host only to check paths and make --workdir;
 * `warn` hears what was asked and ignored. `contributors` (--nv, --mpi: computed by
 * the caller, so that only those options load their code) add libraries, mounts and
 * variables, seeing the environment and the mounts planned so far.
 */
export function prepareLaunch(
  image: OpenedImage,
  argv: string[],
  opts: ActionOptions,
  host: HostFacts,
  warn: (message: string) => void = () => {},
  contributors: readonly Contributor[] = [],
  probe: ShareProbe = shareProbe(host.uid),
): LaunchPlan {
  const binds = parseBinds(opts.bind, host.cwd).map((b) => ({ ...b, src: existingHostPath(b.src, 'bind source') }));
  let home: LaunchRequest['home'];
  if (opts.home) {
    const [src = '', dst] = opts.home.split(':');
    home = { src: existingHostPath(src, '--home source'), dst: dst || src };
  }
  let workdir: string | undefined;
  if (opts.workdir) {
    workdir = existingHostPath(opts.workdir, '--workdir');
    const wd = workdirLayout(workdir);
    ensureDirs([wd.tmp, wd.varTmp, wd.home]);
  }
  const env = buildEnvironment({
    hostEnv: host.env,
    cleanenv: opts.cleanenv,
    envFiles: opts.envFiles.map(readEnvFile),
    envFlags: parseEnvFlags(opts.env),
    imageEnv: image.ociConfig?.Env ?? [],
    home: home?.dst ?? host.home,
    imagePath: image.info.path,
    bindDsts: binds.map((b) => b.dst),
  });
  for (const w of env.warnings) warn(w);
  const request: LaunchRequest = {
    image: { path: image.info.path, offset: image.info.rootfsOffset },
    argv,
    binds,
    contain: opts.contain,
    ...(home ? { home } : {}),
    noHome: opts.noHome,
    ...(workdir ? { workdir } : {}),
    ...(opts.pwd ? { pwd: opts.pwd } : {}),
    writableTmpfs: opts.writableTmpfs,
    ...(opts.storeAhead ? { storeAhead: true } : {}),
    ...(opts.noReadAhead ? { noReadAhead: true } : {}),
    pid: opts.pid,
    env,
  };
  let plan = planLaunch(request, host);
  if (contributors.length) {
    const ctx = { env: env.env, argv, cwd: plan.cwd, hostPathOf: (path: string) => hostPathVia(plan.ops, path) };
    const added = combineContributions(contributors.map((c) => c(ctx)), env.env);
    for (const w of added.warnings) warn(w);
    Object.assign(env.env, added.env);
    if (added.librariesFirst) env.librariesFirst = true;
    plan = planLaunch({ ...request, extraOps: added.ops }, host);
  }
  // The user's binds, --home, the home and the cwd are resolved already.
  const resolved = new Set([...binds.map((b) => b.src), ...(home ? [home.src] : []), host.home, host.cwd]);
  const final = { ...plan, ops: canonicalBindSources(plan.ops, resolved) };
  // Keyed on the final mounts: ranks share only what would be the same container.
  const share = planShare(final, opts.noShare, opts.shareLingerMs, host.uid, host.env, probe);
  return share ? { ...final, share } : final;
}

/**
 * The starter follows no symlink in a bind source (so that what it binds is what was
 * resolved here, not a path swapped in since): each goes to it resolved, but those in
 * `resolved` (about 15 us a path, measured). An optional source that does not resolve
 * is left out, as the starter leaves out one it cannot find: a dangling link
 * (/etc/resolv.conf with no resolver running, /etc/localtime without tzdata) would
 * otherwise reach it as a link and stop the start.
 */
export function canonicalBindSources(ops: readonly MountOp[], resolved: ReadonlySet<string>): MountOp[] {
  return ops.flatMap((o): MountOp[] => {
    if (o.op !== 'bind' || resolved.has(o.src)) return [o];
    const src = canonicalHostPath(o.src);
    if (src !== undefined) return [{ ...o, src }];
    return o.optional ? [] : [o]; // the starter says why it cannot bind it
  });
}

/** Starts the container in place of this process. */
export function launch(plan: LaunchPlan): never {
  return handOff(encodePlan(plan));
}
