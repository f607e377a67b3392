/**
 * A value --mpi computed from the host, kept in the user's cache (user-cache.ts) with
 * what it was computed from: the identity of every host path read (HostRecord), the
 * variables looked up, and other inputs the caller names. It is used only while every
 * one of them is unchanged; a stale entry is never used, only replaced.
 */
import { fileStamp } from '../host/file-stamp.js';
import type { HostRecord } from '../host/host-record.js';
import { readOwnFile, writeOwnFile } from './user-cache.js';

interface Saved<T> {
  format: number;
  /** Variables looked up: name, then value (null: unset). */
  vars: Array<[string, string | null]>;
  /** Other inputs: name, then value (null: none). */
  inputs: Array<[string, string | null]>;
  stamps: Array<[string, string]>;
  value: T;
}

export interface StampedInputs {
  /** A variable's current value. */
  variable(name: string): string | undefined;
  /** The current value of an input the caller recorded (put). */
  input(name: string): string | undefined;
}

/**
 * The value kept in `file`, when it was written in this format and nothing it depends
 * on has changed; what it depends on is added to `into` (a computation that used it
 * depends on the same).
 */
export function loadStamped<T>(file: string, uid: number, format: number, now: StampedInputs, into?: HostRecord): T | undefined {
  const text = readOwnFile(file, uid);
  if (text === undefined) return undefined;
  let saved: Saved<T>;
  try {
    saved = JSON.parse(text) as Saved<T>;
  } catch {
    return undefined;
  }
  if (saved.format !== format || !Array.isArray(saved.vars) || !Array.isArray(saved.inputs) || !Array.isArray(saved.stamps)) return undefined;
  for (const [name, value] of saved.vars) if ((now.variable(name) ?? null) !== value) return undefined;
  for (const [name, value] of saved.inputs) if ((now.input(name) ?? null) !== value) return undefined;
  for (const [path, id] of saved.stamps) if (fileStamp(path) !== id) return undefined;
  if (into) {
    for (const [name, value] of saved.vars) into.vars.set(name, value ?? undefined);
    for (const [path, id] of saved.stamps) if (!into.paths.has(path)) into.paths.set(path, id);
  }
  return saved.value;
}

/** Keeps `value` with what `record` saw (each path's identity from before it was read) and `inputs`. */
export function saveStamped<T>(file: string, format: number, record: HostRecord, inputs: ReadonlyMap<string, string | undefined>, value: T): void {
  if (record.wholeEnvironment) return; // what mattered cannot be told: keep nothing
  const saved: Saved<T> = {
    format,
    vars: [...record.vars].map(([k, v]) => [k, v ?? null]),
    inputs: [...inputs].map(([k, v]) => [k, v ?? null]),
    stamps: [...record.paths],
    value,
  };
  writeOwnFile(file, JSON.stringify(saved));
}
