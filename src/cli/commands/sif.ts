import type { Argv, CommandModule } from 'yargs';
import { SifError } from '../../errors.js';
import { openSif } from '../../image/sif-reader.js';
import { dumpObject, findDescriptor, renderHeader, renderInfo, renderList } from '../../image/siftool-render.js';

/** Object IDs are positive integers; anything else is a usage error naming the argument. */
function parseId(raw: unknown): number {
  const s = String(raw);
  const id = /^[0-9]+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new SifError('SIF_E_USAGE', `invalid SIF object ID "${s}": expected a positive integer`, { hint: '`sif sif list IMAGE` shows the IDs' });
  }
  return id;
}

const image = (y: Argv): Argv => y.positional('image', { type: 'string', describe: 'SIF file' });
const idAndImage = (y: Argv): Argv => y.positional('id', { type: 'string', describe: 'object ID (see `sif sif list`)' }).positional('image', { type: 'string', describe: 'SIF file' });

// Argument order as `siftool` and `apptainer sif`: `info <id> <sif_path>`, `dump <id> <sif_path>`.
const list: CommandModule = {
  command: 'list <image>',
  describe: 'list the objects of a SIF file',
  builder: image,
  handler: async (a) => {
    process.stdout.write(renderList(openSif(String(a.image))));
  },
};

const header: CommandModule = {
  command: 'header <image>',
  describe: 'print the global header of a SIF file',
  builder: image,
  handler: async (a) => {
    process.stdout.write(renderHeader((openSif(String(a.image))).header));
  },
};

const info: CommandModule = {
  command: 'info <id> <image>',
  describe: 'print the details of one object',
  builder: idAndImage,
  handler: async (a) => {
    const id = parseId(a.id);
    process.stdout.write(renderInfo(findDescriptor(openSif(String(a.image)), id)));
  },
};

const dump: CommandModule = {
  command: 'dump <id> <image>',
  describe: "write one object's raw bytes to stdout",
  builder: idAndImage,
  handler: async (a) => {
    const id = parseId(a.id);
    const path = String(a.image);
    const d = findDescriptor(openSif(path), id);
    // A reader that stops early (`| head -c N`) is not an error: stop quietly, as
    // siftool does when SIGPIPE ends it. Without a listener EPIPE would crash Node.
    const isEpipe = (e: unknown): boolean => (e as NodeJS.ErrnoException)?.code === 'EPIPE';
    process.stdout.on('error', (e) => {
      if (!isEpipe(e)) throw e;
    });
    try {
      await dumpObject(path, d, process.stdout);
    } catch (e) {
      if (!isEpipe(e)) throw e;
    }
  },
};

export const sifCommand: CommandModule = {
  command: 'sif',
  describe: 'inspect a SIF file (as `apptainer sif` / `siftool`)',
  builder: (y) => y.command(list).command(header).command(info).command(dump).demandCommand(1, 'give a subcommand: list, header, info or dump'),
  handler: () => undefined,
};
