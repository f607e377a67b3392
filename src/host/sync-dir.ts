import { open } from 'node:fs/promises';

/**
 * fsyncs a directory, so that a file just renamed into it survives a crash. Best
 * effort: some file systems refuse fsync on a directory.
 */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // (see above)
  }
}
