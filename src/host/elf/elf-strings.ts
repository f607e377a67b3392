/**
 * Strings from an ELF string table (.dynstr): NUL-terminated, inside the table, and no
 * longer than MAX_STRING (a path or version name is far shorter), so a table without a
 * terminator costs one bounded read, not a scan of the file.
 */
import { type ByteSource, invalidElf } from './byte-source.js';

export const MAX_STRING = 4096;

export interface StringTable {
  offset: number;
  size: number;
  /** The whole table, read at the first string when it is small enough (see WHOLE_TABLE). */
  data?: Buffer;
}

/**
 * A table up to this size is read once, whole: a library's needs and versions are
 * dozens of strings, and a 4 KiB read for each was most of --mpi's time reading 200
 * host libraries (allocation and GC, measured: 70 ms of 300).
 */
const WHOLE_TABLE = 1 << 20;

export function readString(src: ByteSource, table: StringTable, index: number, what: string): string {
  if (index >= table.size) {
    throw invalidElf(src.name, `${what}: string offset ${index} is outside the string table (${table.size} bytes)`);
  }
  const window = Math.min(MAX_STRING, table.size - index);
  if (!table.data && table.size <= WHOLE_TABLE) table.data = src.read(table.offset, table.size, `${what} (string table)`);
  const bytes = table.data ? table.data.subarray(index, index + window) : src.read(table.offset + index, window, `${what} (string table)`);
  const end = bytes.indexOf(0);
  if (end < 0) throw invalidElf(src.name, `${what}: string at offset ${index} has no terminator within ${window} bytes`);
  return bytes.toString('utf8', 0, end);
}

/** A string table's extent, checked to lie inside the file. */
export function stringTable(src: ByteSource, offset: number, size: number, what: string): StringTable {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset > src.size || size > src.size - offset) {
    throw invalidElf(src.name, `${what} (offset ${offset}, ${size} bytes) runs past the end of the file (${src.size} bytes)`);
  }
  return { offset, size };
}
