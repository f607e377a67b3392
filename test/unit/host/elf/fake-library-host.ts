// A LibraryHost over a made-up file tree: each path holds a fixture's facts or facts
// written by hand. Directory listings follow from the paths; ".." resolves as in a
// tree without symlinks.
import { posix } from 'node:path';
import { SifError } from '../../../../src/errors.js';
import type { ElfInfo } from '../../../../src/host/elf/elf-info.js';
import type { LdCacheEntry } from '../../../../src/host/elf/ld-so-cache.js';
import type { LibraryHost } from '../../../../src/host/elf/library-host.js';
import { readElfFile } from '../../../../src/host/elf/read-elf.js';
import { fixturePath } from './elf-fixtures.js';

export type FakeFile = string | ElfInfo | SifError;

export interface FakeHost extends LibraryHost {
  /** Every path elfInfo was asked for, in order. */
  reads: string[];
}

export function fakeHost(files: Record<string, FakeFile>, cache: LdCacheEntry[] = [], ids: Record<string, string> = {}): FakeHost {
  const reads: string[] = [];
  return {
    reads,
    elfInfo(path) {
      reads.push(path);
      const f = files[posix.normalize(path)];
      if (f === undefined) throw new SifError('SIF_E_ELF_UNREADABLE', `${path}: cannot open: ENOENT`);
      if (f instanceof SifError) throw f;
      return typeof f === 'string' ? readElfFile(fixturePath(f)) : f;
    },
    listDirectory(dir) {
      const names = Object.keys(files)
        .filter((p) => posix.dirname(p) === posix.normalize(dir))
        .map((p) => posix.basename(p));
      return names.length > 0 ? names : null;
    },
    ldCache: () => cache,
    fileId: (path) => ids[path] ?? path,
  };
}

/** An x86-64 shared object's facts, for cases the fixtures do not cover. */
export function so(facts: Partial<ElfInfo>): ElfInfo {
  return {
    elfClass: 64,
    byteOrder: 'little',
    machine: 62,
    machineName: 'x86-64',
    type: 'shared',
    needed: [],
    flags1: 0,
    versionsDefined: [],
    versionsNeeded: [],
    ...facts,
  };
}
