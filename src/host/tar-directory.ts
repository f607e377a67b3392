/**
 * A directory tree as a tar stream, made by the host's GNU tar: it already knows
 * every file type, hard links, xattrs and sparse files, and reads the tree as the
 * calling user, so what the user cannot read fails loudly instead of going missing.
 */
import { PassThrough, type Readable } from 'node:stream';
import { execa } from 'execa';
import { SifError } from '../errors.js';

/**
 * `dir` as a tar stream. What tar says and yet succeeds with (`socket ignored`) goes
 * to `warn`, one message a line.
 */
export function tarDirectory(dir: string, warn?: (message: string) => void): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const child = execa('tar', ['--create', '--format=pax', '--xattrs', '--xattrs-include=*', '--numeric-owner',
    '--one-file-system', '--directory', dir, '.'], { stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true },
    stdin: 'ignore', reject: false, env: { LC_ALL: 'C' } });
  child.stdout!.pipe(out, { end: false });
  void child.then((r) => {
    if (r.exitCode === 0) {
      for (const line of String(r.stderr ?? '').split('\n').filter(Boolean)) warn?.(`${dir}: ${line.replace(/^tar: (\.\/)?/, '')}`);
      return out.end();
    }
    const text = String(r.stderr ?? '').trim().split('\n').slice(-3).join('; ');
    const why = r.failed && r.exitCode === undefined ? String(r.message) : text || `tar exited with status ${r.exitCode}`;
    out.destroy(new SifError('SIF_E_BUILD_SOURCE', `cannot read directory ${dir}: ${why}`, {
      hint: 'every file of the directory must be readable by you',
    }));
  });
  out.on('close', () => { if (child.exitCode === null) child.kill(); });
  return out;
}
