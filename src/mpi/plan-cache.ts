/**
 * The verdict of --mpi (planMpiLibraries: the command's need, the host MPI, its
 * closure, the ABI and glibc checks) kept between starts: every rank of a node and
 * every step of a job asks the same question of the same files, and answering it
 * reads the image (its program, ld.so.cache and C library) and ~200 host ELF headers.
 * An entry is keyed by the image file and the command's name, and used only while the image
 * file's identity, every host path the computation touched, every host and container
 * variable it looked up and every bind it asked about are unchanged (stamped-cache.ts).
 * A second start then only stats the host files. Refusals are not kept: they are
 * computed again, and say why each time.
 */
import type { ContainerLibrary } from '../exec/launch-contribution.js';
import type { MountOp } from '../exec/mount-ops.js';
import { fileStamp } from '../host/file-stamp.js';
import { emptyRecord, type HostRecord, recordingEnv, recordingHost } from '../host/host-record.js';
import type { MpiHostFacts } from '../host/mpi-host-facts.js';
import type { ImageInfo } from '../image/open-image.js';
import type { CommandContext } from './command-need.js';
import type { MpiPlan } from './plan-mpi.js';
import { loadStamped, saveStamped } from './stamped-cache.js';
import { cacheKey, pruneEntries } from './user-cache.js';

const FORMAT = 1;

/** Entries kept (~40 KB each): one per image and command, so a user's jobs rarely reach it. */
const MAX_ENTRIES = 64;

interface Verdict {
  libraries: ContainerLibrary[];
  ops: MountOp[];
  notes: string[];
  warnings: string[];
}

/** The command as planMpiLibraries sees it, each bind asked about noted in `inputs`, each variable in `envRecord`. */
function recordingCommand(command: CommandContext, inputs: Map<string, string | undefined>, envRecord: HostRecord): CommandContext {
  return {
    argv: command.argv,
    // Read only for a relative command (./solver): an entry serves every directory otherwise.
    get cwd() {
      inputs.set('cwd', command.cwd);
      return command.cwd;
    },
    env: recordingEnv(command.env, envRecord),
    hostPathOf(path) {
      const host = command.hostPathOf(path);
      inputs.set(`bind:${path}`, host);
      return host;
    },
  };
}

/**
 * planMpiLibraries' answer for this command and image: from `dir` (user-cache.ts) when
 * an entry there is valid, else `compute`d (given the command and host to read
 * through, so that what it reads is recorded, and the record, for what it takes from
 * other caches) and kept when it does not refuse.
 */
export function cachedVerdict(
  command: CommandContext,
  image: Pick<ImageInfo, 'path' | 'rootfsOffset'>,
  host: MpiHostFacts,
  uid: number,
  dir: string | undefined,
  compute: (command: CommandContext, host: MpiHostFacts, record?: HostRecord) => MpiPlan,
): MpiPlan {
  if (!dir) return compute(command, host);
  const argv0 = command.argv[0] ?? '';
  const key = cacheKey(JSON.stringify({ FORMAT, image: image.path, offset: image.rootfsOffset, argv0 }));
  const file = `${dir}/mpi-plan-${key}.json`;
  // What the entry is for, checked too: the key is a hash, and the image's file may have been replaced.
  const fixed = new Map<string, string | undefined>([
    ['image', `${image.path}@${image.rootfsOffset}:${fileStamp(image.path)}`],
    ['argv0', argv0],
  ]);
  const current = (name: string): string | undefined => {
    if (fixed.has(name)) return fixed.get(name);
    if (name === 'cwd') return command.cwd;
    if (name.startsWith('bind:')) return command.hostPathOf(name.slice(5));
    if (name.startsWith('env:')) return command.env[name.slice(4)];
    return undefined;
  };
  const saved = loadStamped<Verdict>(file, uid, FORMAT, { variable: (name) => host.env[name], input: current });
  if (saved) {
    return { ...saved, env: {}, notes: [...saved.notes, `plan from ${file} (the image, the command and every host file it was read from unchanged)`] };
  }
  const inputs = new Map(fixed);
  const envRecord = emptyRecord();
  const record = emptyRecord();
  const plan = compute(recordingCommand(command, inputs, envRecord), recordingHost(host, record), record);
  for (const [k, v] of envRecord.vars) inputs.set(`env:${k}`, v);
  if (!plan.refusal && !envRecord.wholeEnvironment && Object.keys(plan.env).length === 0) {
    const verdict: Verdict = { libraries: plan.libraries, ops: plan.ops, notes: plan.notes, warnings: plan.warnings };
    saveStamped(file, FORMAT, record, inputs, verdict);
    pruneEntries(dir, 'mpi-plan-', MAX_ENTRIES);
  }
  return plan;
}
