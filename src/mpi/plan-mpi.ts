/**
 * Plans --mpi: which host MPI (discover-mpi.ts), what the command needs of it
 * (command-need.ts), what goes in (host-closure.ts), the checks that refuse a
 * mismatch before anything is bound, and what else passes (mpi-passthrough.ts).
 * Pure over the host's and the image's facts, so doctor and the tests see exactly what
 * a launch would do.
 */
import { SifError, type SifErrorCode } from '../errors.js';
import type { ContainerLibrary } from '../exec/launch-contribution.js';
import type { MountOp } from '../exec/mount-ops.js';
import type { ElfInfo } from '../host/elf/elf-info.js';
import { compareVersions, glibcVersionsNeeded, missingGlibcVersions } from '../host/elf/glibc-check.js';
import { cacheFlagsMatch } from '../host/elf/ld-cache-flags.js';
import { isLibcFamily } from '../host/elf/libc-family.js';
import { searchDefaults } from '../host/elf/search-defaults.js';
import type { MpiHostFacts } from '../host/mpi-host-facts.js';
import { parseSiteConfig, type SiteConfig } from '../host/site-config.js';
import type { ImageLibraries } from '../image/image-libraries.js';
import { type CommandContext, type CommandNeed, commandNeed, type MpiNeed } from './command-need.js';
import { discoverMpi, type HostMpi, WAY_OUT_ABI } from './discover-mpi.js';
import { type HostClosure, hostClosure } from './host-closure.js';
import { imageLibc } from './image-glibc.js';
import { FAMILY_NAMES, twinName } from './mpi-family.js';
import { mpiPassThrough } from './mpi-passthrough.js';
import { imageMpiLibraries, modulesBeside, runTimeVerdict } from './runtime-need.js';

export interface MpiRequest {
  contain: boolean;
  cleanenv: boolean;
  uid: number;
  command: CommandContext;
}

export interface MpiPlan {
  host?: HostMpi;
  need?: CommandNeed;
  libraries: ContainerLibrary[];
  /** Directories and files bound at the same path (read-only), devices and sockets (read-write). */
  ops: MountOp[];
  env: Record<string, string>;
  /** Every decision, for --verbose and `sif doctor --mpi`. */
  notes: string[];
  warnings: string[];
  /** Set when --mpi must not go on: the launch throws it, doctor prints it. */
  refusal?: SifError;
}

const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);

function refuse(plan: MpiPlan, code: SifErrorCode, message: string, hint: string): MpiPlan {
  plan.refusal = new SifError(code, message, { hint });
  plan.notes.push(`refused: ${message}`);
  return plan;
}

function describeProgram(need: CommandNeed): string {
  return need.program ? `${need.program.path} (${need.program.where === 'image' ? 'in the image' : 'a host file bound in'})` : 'the command';
}

/** Who needs an MPI library: the program, or a module beside it that it loads at run time. */
function describeNeeder(need: CommandNeed, m: MpiNeed): string {
  return m.atRunTime ? `${m.neededBy} (beside ${need.program?.path ?? 'the command'}, loaded at run time)` : describeProgram(need);
}

/** The newest GLIBC_x.y a libc defines, for messages. */
function newestGlibc(versions: readonly string[]): string | undefined {
  return versions.filter((v) => /^GLIBC_\d/.test(v)).sort(compareVersions).pop();
}

function siteOf(facts: MpiHostFacts, plan: MpiPlan): SiteConfig {
  const s = facts.siteConfig();
  if (s.error) plan.warnings.push(`--mpi: cannot read the site file ${s.path}: ${s.error}`);
  const site = parseSiteConfig(s.text, s.path);
  plan.notes.push(s.text === undefined ? `site file ${s.path}: none` : `site file ${s.path}: read`);
  for (const p of site.problems) plan.warnings.push(p);
  for (const u of site.unknown) plan.notes.push(`site file: ignored key ${u}`);
  return site;
}

export interface MpiFacts {
  host: MpiHostFacts;
  image: ImageLibraries;
  /** hostClosure, or a cache of it (closure-cache.ts): the same for every rank of a node. */
  closure?: (starts: ReadonlyArray<{ path: string; names: string[] }>) => HostClosure;
}

/**
 * --mpi up to its verdict: the command's need, the host MPI, its closure and the
 * checks. What this returns depends on the host's files and the image alone, never on
 * the rank or step, so a launch may keep it (plan-cache.ts); mpiPassThrough is added
 * fresh each time.
 */
export function planMpiLibraries(command: CommandContext, facts: MpiFacts): MpiPlan {
  const plan: MpiPlan = { libraries: [], ops: [], env: {}, notes: [], warnings: [] };
  const { host: hf, image } = facts;
  const site = siteOf(hf, plan);

  // The image's loader: multiarch directories where the image has them.
  const multiarch = image.has('/lib', 'x86_64-linux-gnu') || image.has('/lib', 'aarch64-linux-gnu');
  const defaults = searchDefaults(hf.machine, 64, multiarch);

  const need = commandNeed(command, image, { isFile: (p) => hf.kind(p) === 'file', elfInfo: (p) => hf.libraries.elfInfo(p) }, defaults);
  plan.need = need;
  if (need.unreadable) plan.notes.push(`cannot read the command's needs (${need.unreadable}): its MPI ABI is not checked, only the C library`);
  else if (need.program) {
    plan.notes.push(`command ${describeProgram(need)}: ${need.program.info.elfClass}-bit ${need.program.info.machineName}`);
    for (const m of need.mpi) plan.notes.push(`it needs ${m.name} (${FAMILY_NAMES[m.family]}), via ${basename(m.neededBy)}${m.inImage ? `; the image has its own at ${m.inImage}` : '; the image has none'}`);
    for (const m of need.missing) plan.notes.push(`it needs ${m}, which the image lacks`);
  }
  // A program that loads no MPI itself may load it at run time (runtime-need.ts).
  let imageMpi: MpiNeed[] = [];
  if (need.mpi.length === 0) {
    const containerLd = command.env.LD_LIBRARY_PATH;
    const beside = need.program?.where === 'image' ? modulesBeside(need.program.path, image, defaults, containerLd) : undefined;
    if (beside?.mpi.length) {
      plan.notes.push(`it loads no MPI library itself; modules beside it do (${beside.modules.map(basename).join(', ')}): checked as its own`);
      for (const m of beside.mpi) {
        need.mpi.push({ ...m, atRunTime: true });
        plan.notes.push(`${basename(m.neededBy)} needs ${m.name} (${FAMILY_NAMES[m.family]})${m.inImage ? `; the image has its own at ${m.inImage}` : '; the image has none'}`);
      }
      need.objects.push(...beside.objects);
    } else {
      imageMpi = imageMpiLibraries(image);
    }
  }
  const families = [...new Set(need.mpi.map((m) => m.family))];
  if (families.length > 1) {
    return refuse(plan, 'SIF_E_MPI_ABI', `--mpi: ${describeProgram(need)} needs libraries of several MPI families (${need.mpi.map((m) => m.name).join(', ')})`, WAY_OUT_ABI);
  }

  let mpi: HostMpi;
  try {
    mpi = discoverMpi(hf, site, families[0] ?? imageMpi[0]?.family, plan.notes);
  } catch (e) {
    if (!(e instanceof SifError)) throw e;
    plan.refusal = e;
    plan.notes.push(`refused: ${e.message}`);
    return plan;
  }
  plan.host = mpi;
  const mpiInfo: ElfInfo = hf.libraries.elfInfo(mpi.path);
  plan.notes.push(`host MPI: ${mpi.path} -> ${hf.realPath(mpi.path) ?? '?'}, soname ${mpi.soname}, ${FAMILY_NAMES[mpi.family]} (found by ${mpi.how})`);

  // ABI: each MPI library the command needs must be of the host's family.
  for (const m of need.mpi) {
    if (m.family !== mpi.family) {
      return refuse(
        plan,
        'SIF_E_MPI_ABI',
        `--mpi: ${describeNeeder(need, m)} needs ${m.name} (${FAMILY_NAMES[m.family]}), but the host's MPI is ${mpi.soname} at ${mpi.path} (${FAMILY_NAMES[mpi.family]}): the two ABIs are incompatible`,
        WAY_OUT_ABI,
      );
    }
  }
  if (need.mpi.length) plan.notes.push(`ABI: ${need.mpi.map((m) => m.name).join(', ')} and the host's ${mpi.soname} are both ${FAMILY_NAMES[mpi.family]}: compatible`);
  else {
    const v = runTimeVerdict(describeProgram(need), need.program?.path, imageMpi, mpi);
    plan.notes.push(...v.notes);
    plan.warnings.push(...v.warnings);
  }

  // ELF class and machine.
  const prog = need.program?.info;
  if (prog && (prog.elfClass !== mpiInfo.elfClass || prog.machine !== mpiInfo.machine)) {
    return refuse(
      plan,
      'SIF_E_MPI_ELF',
      `--mpi: ${describeProgram(need)} is ${prog.elfClass}-bit ${prog.machineName}, the host's ${mpi.soname} ${mpiInfo.elfClass}-bit ${mpiInfo.machineName}`,
      'run a program built for this machine, or without --mpi',
    );
  }

  // What to start the closure from: the MPI library under its names, and the family's
  // other libraries the command needs (Fortran bindings, Debian's MPICH names).
  const hostCache = hf.libraries.ldCache().filter((e) => e.hwcap === 0n && cacheFlagsMatch(e.flags, mpiInfo.elfClass, mpiInfo.machine));
  const starts = [{ path: mpi.path, names: [mpi.soname] }];
  for (const m of need.mpi) {
    if (m.name === mpi.soname) continue;
    if (twinName(m.name) === mpi.soname) {
      starts[0]!.names.push(m.name);
      plan.notes.push(`${m.name}: the host's ${mpi.soname}, the same ABI under Debian's other name`);
      continue;
    }
    const entry = hostCache.find((e) => e.soname === m.name) ?? hostCache.find((e) => e.soname === twinName(m.name));
    if (!entry) {
      return refuse(
        plan,
        'SIF_E_MPI_ABI',
        `--mpi: ${describeNeeder(need, m)} needs ${m.name}, which the host's ${FAMILY_NAMES[mpi.family]} lacks (not in the host's ld.so.cache)`,
        `install it on the host, or run without --mpi`,
      );
    }
    starts.push({ path: entry.path, names: [m.name] });
  }
  const closure = (facts.closure ?? ((st) => hostClosure(hf, st)))(starts);
  plan.libraries = closure.libraries;
  plan.notes.push(...closure.notes);
  plan.warnings.push(...closure.warnings);
  plan.notes.push(`libraries into /.singularity.d/libs, first on LD_LIBRARY_PATH (${closure.libraries.length}): ${closure.libraries.map((l) => l.name).join(' ')}`);
  // A host library bound in place of the image's must define the versions the command
  // needs of it (a host libstdc++ older than the image's would stop it at start).
  const hostDefines = new Map(closure.objects.map((o) => [o.info.soname ?? basename(o.path), o.info.versionsDefined]));
  const bound = new Set(closure.libraries.map((l) => l.name));
  for (const o of need.objects) {
    for (const vn of o.info.versionsNeeded) {
      if (!bound.has(vn.file) || isLibcFamily(vn.file)) continue;
      const defined = hostDefines.get(vn.file) ?? [];
      const lacking = vn.versions.filter((v) => !vn.weak.includes(v) && !defined.includes(v));
      if (lacking.length) {
        return refuse(
          plan,
          'SIF_E_MPI_GLIBC',
          `--mpi: ${o.path} needs ${lacking.join(', ')} from ${vn.file}, which the host's copy that --mpi binds in place of the image's lacks (it comes with the host's MPI)`,
          'run without --mpi, or build the program with a toolchain no newer than the host\'s',
        );
      }
    }
  }
  for (const d of closure.dirs) {
    plan.ops.push({ op: 'bind', src: d.path, dst: d.path, readonly: true });
    plan.notes.push(`${d.what}: ${d.path}, bound at the same path`);
  }

  // glibc: every version the bound objects need from the C library family, against
  // what the image's copies define.
  const needs = glibcVersionsNeeded(closure.objects);
  const sonames = [...new Set(['libc.so.6', ...needs.map((n) => n.library)])];
  const libc = imageLibc(image, sonames, { elfClass: mpiInfo.elfClass, machine: mpiInfo.machine }, defaults.defaultDirs);
  const ownLibc = libc.defines.get('libc.so.6');
  if (!ownLibc) {
    return refuse(
      plan,
      'SIF_E_MPI_GLIBC',
      `--mpi: the image has no GNU C library (libc.so.6 in its ld.so.cache or ${defaults.defaultDirs.join(', ')}): the host's MPI libraries cannot run in it`,
      'run an image with glibc (Debian, Ubuntu, RHEL and their kin), or run without --mpi with the MPI inside the image',
    );
  }
  const newest = newestGlibc(ownLibc);
  plan.notes.push(`image C library: ${libc.paths.get('libc.so.6')} (up to ${newest ?? 'no GLIBC_ version'})`);
  const missing = missingGlibcVersions(needs, libc.defines);
  if (missing.length) {
    const list = missing.map((m) => `${m.version} from ${m.library} (needed by ${m.neededBy.map(basename).slice(0, 3).join(', ')}${m.neededBy.length > 3 ? ', ...' : ''})`).join('; ');
    const want = missing.map((m) => m.version).sort(compareVersions).pop();
    return refuse(
      plan,
      'SIF_E_MPI_GLIBC',
      `--mpi: the image's C library (${libc.paths.get('libc.so.6')}, up to ${newest ?? '?'}) is older than the host's MPI needs: ${list}`,
      `run an image whose glibc has ${want} or later, or run without --mpi with the MPI inside the image`,
    );
  }
  const highest = needs.map((n) => n.version).sort(compareVersions).pop();
  plan.notes.push(`glibc: the host objects need up to ${highest ?? 'nothing'}, the image defines all of it`);

  if (need.mpi.some((m) => m.inImage)) {
    plan.notes.push("the image's own MPI libraries stay in the image, unused: /.singularity.d/libs comes first");
  }
  return plan;
}

/** What else passes from the host (mpi-passthrough.ts), added to a plan that goes on. */
export function withPassThrough(plan: MpiPlan, req: MpiRequest, hf: MpiHostFacts): MpiPlan {
  if (plan.refusal) return plan;
  const s = hf.siteConfig();
  const pass = mpiPassThrough({ contain: req.contain, cleanenv: req.cleanenv, containerEnv: req.command.env, uid: req.uid }, hf, parseSiteConfig(s.text, s.path));
  return {
    ...plan,
    ops: [...plan.ops, ...pass.ops],
    env: { ...plan.env, ...pass.env },
    notes: [...plan.notes, ...pass.notes],
    warnings: [...plan.warnings, ...pass.warnings],
  };
}

export function planMpi(req: MpiRequest, facts: MpiFacts): MpiPlan {
  return withPassThrough(planMpiLibraries(req.command, facts), req, facts.host);
}
