/**
 * The image's files for --nv-compat (cuda-compat.ts), read out of the squashfs without
 * mounting it: directory listings and a library's ELF header, soname and notes, only
 * the blocks those touch. The image is opened on the first question only.
 */
import { closeSync, openSync } from 'node:fs';
import { rangeSource } from '../host/elf/byte-source.js';
import { readElf } from '../host/elf/read-elf.js';
import { readNotes } from '../host/elf/elf-notes.js';
import type { ImageInfo } from '../image/open-image.js';
import { SquashfsReader } from '../image/squashfs-reader.js';
import type { CompatImage, CompatLibrary } from './cuda-compat.js';

/** The package's note: owner "NVIDIA Corporation", JSON {"CUDA Version": "12.8", "Driver": [535, 550, ...], ...}. */
function forwardNote(notes: ReturnType<typeof readNotes>): CompatLibrary['forward'] {
  for (const n of notes) {
    if (n.owner !== 'NVIDIA Corporation') continue;
    try {
      const j = JSON.parse(n.desc.toString('utf8').replace(/\0+$/, '')) as Record<string, unknown>;
      const drivers = Array.isArray(j.Driver) && j.Driver.every((d) => Number.isInteger(d)) ? (j.Driver as number[]) : undefined;
      const cuda = typeof j['CUDA Version'] === 'string' ? j['CUDA Version'] : undefined;
      if (drivers || cuda) return { ...(drivers ? { drivers } : {}), ...(cuda ? { cuda } : {}) };
    } catch {
      // another NVIDIA note: not this one
    }
  }
  return undefined;
}

/** The image's files; `close` releases the descriptor if one was opened. */
export function compatImage(info: ImageInfo): CompatImage & { close(): void } {
  let fd: number | undefined;
  let reader: SquashfsReader | undefined;
  const open = () => {
    if (!reader) {
      fd = openSync(info.path, 'r');
      reader = new SquashfsReader({ fd, offset: info.rootfsOffset, superblock: info.superblock, file: info.path });
    }
    return reader;
  };
  return {
    list: (dir) => open().list(dir),
    library: (path) => {
      try {
        // Inside the try: a file claiming more than sif reads (4 GiB, say) is left out too.
        const f = open().fileReader(path);
        if (!f) return undefined;
        const src = rangeSource(`${info.path}:${path}`, f.size, f.read);
        const elf = readElf(src);
        const forward = forwardNote(readNotes(src));
        return { elfClass: elf.elfClass, machine: elf.machine, ...(elf.soname ? { soname: elf.soname } : {}), ...(forward ? { forward } : {}) };
      } catch {
        return undefined; // not a usable ELF object: the planner leaves it out
      }
    },
    close: () => {
      if (fd !== undefined) closeSync(fd);
    },
  };
}
