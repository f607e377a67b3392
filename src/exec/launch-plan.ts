import type { HostFacts } from '../host/host-facts.js';
import { type ContainerEnv, envScriptShim, evaluatesValues } from './environment.js';
import type { LaunchPlan, MountOp } from './mount-ops.js';
import { pmixServerDirs } from './pmix-server-dirs.js';

export interface ResolvedBind {
  /** Host path, symlinks resolved. */
  src: string;
  dst: string;
  readonly: boolean;
}

export interface LaunchRequest {
  image: { path: string; offset: number };
  argv: string[];
  binds: ResolvedBind[];
  contain: boolean;
  /** --home SRC[:DST]; by default the caller's home, bound at the same path. */
  home?: { src: string; dst: string };
  noHome: boolean;
  /** --workdir, already holding tmp/, var_tmp/ and home/ (see workdirLayout). */
  workdir?: string;
  pwd?: string;
  writableTmpfs: boolean;
  /** --store-ahead (see LaunchPlan). */
  storeAhead?: boolean;
  /** --no-read-ahead (see LaunchPlan). */
  noReadAhead?: boolean;
  pid: boolean;
  env: ContainerEnv;
  /** Operations of --nv, placed before the user's binds (a user's bind of the same destination wins). */
  extraOps?: MountOp[];
}

/** Where --workdir keeps what would otherwise come from the host or a tmpfs. */
export function workdirLayout(workdir: string): { tmp: string; varTmp: string; home: string } {
  return { tmp: `${workdir}/tmp`, varTmp: `${workdir}/var_tmp`, home: `${workdir}/home` };
}

/** Directories whose host copy must never replace the image's when the cwd is one of them. */
const SYSTEM_DIRS = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/usr', '/var', '/home']);

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

function devOps(contain: boolean): MountOp[] {
  if (!contain) return [{ op: 'bind', src: '/dev', dst: '/dev' }];
  // A minimal /dev: the harmless character devices, a private /dev/shm, the host's ptys.
  const nodes = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
  return [
    { op: 'tmpfs', dst: '/dev', mode: 0o755 },
    ...nodes.map((n): MountOp => ({ op: 'bind', src: `/dev/${n}`, dst: `/dev/${n}`, optional: true })),
    { op: 'bind', src: '/dev/pts', dst: '/dev/pts', optional: true },
    { op: 'tmpfs', dst: '/dev/shm', mode: 0o1777 },
    { op: 'symlink', target: '/proc/self/fd', dst: '/dev/fd' },
    { op: 'symlink', target: '/proc/self/fd/0', dst: '/dev/stdin' },
    { op: 'symlink', target: '/proc/self/fd/1', dst: '/dev/stdout' },
    { op: 'symlink', target: '/proc/self/fd/2', dst: '/dev/stderr' },
    { op: 'symlink', target: 'pts/ptmx', dst: '/dev/ptmx' },
  ];
}

/** The caller's identity lines, placed before the image's own (first match wins in NSS). */
function identityOps(host: HostFacts, home: string): MountOp[] {
  return [
    { op: 'merge', dst: '/etc/passwd', mode: 0o644, data: `${host.user}:x:${host.uid}:${host.gid}:${host.gecos}:${home}:${host.shell}\n` },
    { op: 'merge', dst: '/etc/group', mode: 0o644, data: `${host.group}:x:${host.gid}:${host.user}\n` },
  ];
}

/**
 * Plans a container launch: the mounts Apptainer makes by default (proc, sys, dev,
 * home, cwd, tmp, hosts, localtime, resolv.conf, identity), then the user's binds.
 */
export function planLaunch(req: LaunchRequest, host: HostFacts): LaunchPlan {
  const ops: MountOp[] = [];
  const userDsts = new Set(req.binds.map((b) => b.dst));
  const add = (o: MountOp) => {
    if (!userDsts.has(o.dst)) ops.push(o);
  };
  const wd = req.workdir ? workdirLayout(req.workdir) : undefined;

  add(req.pid ? { op: 'proc', dst: '/proc' } : { op: 'bind', src: '/proc', dst: '/proc' });
  add({ op: 'bind', src: '/sys', dst: '/sys' });
  for (const o of devOps(req.contain)) add(o);

  // Home: the host's, --home's, a private one (--contain), or none (--no-home: the
  // image's own directory if it has one, nothing made in its place).
  const homeDst = req.home?.dst ?? host.home;
  const homeOp: MountOp | undefined = req.noHome
    ? undefined
    : req.home
      ? { op: 'bind', src: req.home.src, dst: homeDst }
      : req.contain
        ? wd ? { op: 'bind', src: wd.home, dst: homeDst } : { op: 'tmpfs', dst: homeDst, mode: 0o700 }
        : { op: 'bind', src: host.home, dst: homeDst };
  if (homeOp) add(homeOp);

  if (wd) {
    add({ op: 'bind', src: wd.tmp, dst: '/tmp' });
    add({ op: 'bind', src: wd.varTmp, dst: '/var/tmp' });
  } else if (req.contain) {
    add({ op: 'tmpfs', dst: '/tmp', mode: 0o1777 });
    add({ op: 'tmpfs', dst: '/var/tmp', mode: 0o1777 });
  } else {
    add({ op: 'bind', src: '/tmp', dst: '/tmp' });
    add({ op: 'bind', src: '/var/tmp', dst: '/var/tmp', optional: true });
  }

  for (const f of ['/etc/hosts', '/etc/localtime', '/etc/resolv.conf']) add({ op: 'bind', src: f, dst: f, readonly: true, optional: true });
  for (const o of identityOps(host, homeDst)) add(o);

  // The current directory, unless something already mounted covers it or it is a system path.
  const mountedDirs = ops.filter((o) => o.op === 'bind' || o.op === 'tmpfs').map((o) => o.dst);
  const covered = [...mountedDirs, ...userDsts].some((d) => d !== '/dev' && d !== '/proc' && d !== '/sys' && isUnder(host.cwd, d));
  const bindCwd = !req.contain && !covered && !SYSTEM_DIRS.has(host.cwd);
  if (bindCwd) add({ op: 'bind', src: host.cwd, dst: host.cwd });

  // PMIx's data store under srun --mpi=pmix, unless a same-path bind already shows it.
  const samePath = ops.filter((o) => o.op === 'bind' && o.src === o.dst).map((o) => o.dst);
  for (const dir of pmixServerDirs(host.env)) {
    if (!samePath.some((d) => isUnder(dir, d))) add({ op: 'bind', src: dir, dst: dir, optional: true });
  }

  for (const o of req.extraOps ?? []) add(o);
  for (const b of req.binds) ops.push({ op: 'bind', src: b.src, dst: b.dst, readonly: b.readonly });

  // Without a home, a cwd that is not mounted is looked for in the image, as Apptainer
  // does (the starter falls back to / if the image lacks it).
  const fallback = req.noHome ? host.cwd : homeDst;
  const cwd = req.pwd ?? (req.contain ? homeDst : covered || bindCwd ? host.cwd : fallback);
  return {
    image: req.image.path,
    offset: req.image.offset,
    newPid: req.pid,
    writable: req.writableTmpfs,
    ...(req.storeAhead ? { storeAhead: true } : {}),
    ...(req.noReadAhead ? { noReadAhead: true } : {}),
    ops,
    cwd,
    argv: req.argv,
    env: req.env.env,
    // Apptainer-built images need their env scripts run; values to evaluate need a shell anyway.
    shim: { test: evaluatesValues(req.env) ? '/' : '/.singularity.d/env', shell: '/bin/sh', script: envScriptShim(req.env) },
  };
}
