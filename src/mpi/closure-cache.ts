/**
 * The host closure of --mpi kept between starts: it is the same for every rank of a
 * node and every step of a job, and reading ~200 host ELF headers for it is most of
 * what --mpi costs a start when the whole plan is not cached (plan-cache.ts: another
 * command, or another image). An entry is used only while every path the computation
 * read, listed or resolved is unchanged, and every variable it looked up
 * (LD_LIBRARY_PATH: `module load` sets it) has its value (stamped-cache.ts).
 */
import { emptyRecord, type HostRecord, mergeRecord, recordingHost } from '../host/host-record.js';
import type { MpiHostFacts } from '../host/mpi-host-facts.js';
import { type HostClosure, hostClosure } from './host-closure.js';
import { loadStamped, saveStamped } from './stamped-cache.js';
import { cacheKey } from './user-cache.js';

const FORMAT = 3;

/**
 * hostClosure(host, starts), from `dir` (user-cache.ts) when it holds a valid entry,
 * else computed and kept there. `into` hears what a kept entry depends on (a plan
 * kept by plan-cache.ts depends on it too). `host` is the unrecorded one: the closure
 * records its own reads, once each.
 */
export function cachedHostClosure(starts: ReadonlyArray<{ path: string; names: string[] }>, host: MpiHostFacts, uid: number, dir: string | undefined, into?: HostRecord): HostClosure {
  if (!dir) return hostClosure(into ? recordingHost(host, into) : host, starts);
  const key = cacheKey(JSON.stringify({ FORMAT, starts }));
  const file = `${dir}/mpi-closure-${key}.json`;
  const saved = loadStamped<HostClosure>(file, uid, FORMAT, { variable: (name) => host.env[name], input: () => undefined }, into);
  if (saved) return { ...saved, notes: [...saved.notes, `host closure from ${file} (nothing it was read from changed)`] };
  const record = emptyRecord();
  const closure = hostClosure(recordingHost(host, record), starts);
  saveStamped(file, FORMAT, record, new Map(), closure);
  if (into) mergeRecord(into, record);
  return closure;
}
