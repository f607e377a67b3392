/**
 * What `sif build OUT SOURCE` was asked to read, parsed from SOURCE. Pure: the
 * caller passes how paths on disk look, because `oci:DIR:TAG` and
 * `docker-archive:FILE:NAME:TAG` are only unambiguous once we know which prefix
 * is an existing path.
 */
import { SifError } from '../errors.js';

export type SourceSpec =
  | { kind: 'docker'; ref: string }
  | { kind: 'oci'; path: string; tag?: string }
  | { kind: 'oci-archive'; path: string; tag?: string }
  | { kind: 'docker-archive'; path: string; ref?: string }
  | { kind: 'sandbox'; path: string }
  | { kind: 'image'; path: string };

export type PathKind = 'file' | 'dir' | null;

const UNSUPPORTED: Record<string, string> = {
  'library:': 'the Sylabs library is not supported; pull from an OCI registry with docker://',
  'oras:': 'ORAS artifacts are not supported yet',
  'shub:': 'Singularity Hub is gone; use docker://',
  'docker-daemon:': 'sif talks to no daemon; export the image with `docker save -o FILE` and use docker-archive:FILE',
  'http:': 'plain URLs are not supported; download the file and build from its path',
  'https:': 'plain URLs are not supported; download the file and build from its path',
};

function usage(message: string, hint?: string): SifError {
  return new SifError('SIF_E_BUILD_REFERENCE', message, hint === undefined ? {} : { hint });
}

/** Splits `PATH[:SUFFIX]` at the first ':' after which PATH names an existing path of the wanted kind. */
function splitPath(rest: string, kind: 'file' | 'dir', stat: (p: string) => PathKind): [string, string | undefined] {
  if (stat(rest) === kind) return [rest, undefined];
  for (let i = rest.indexOf(':'); i >= 0; i = rest.indexOf(':', i + 1)) {
    if (stat(rest.slice(0, i)) === kind) return [rest.slice(0, i), rest.slice(i + 1)];
  }
  return [rest, undefined];
}

export function parseSource(source: string, stat: (p: string) => PathKind): SourceSpec {
  if (source === '') throw usage('the build source is empty');
  for (const [prefix, why] of Object.entries(UNSUPPORTED))
    if (source.startsWith(prefix)) throw usage(`unsupported source ${source}`, why);
  if (source.startsWith('docker://')) {
    const ref = source.slice('docker://'.length);
    if (!ref) throw usage('docker:// needs an image reference, e.g. docker://python:3.12-slim');
    return { kind: 'docker', ref };
  }
  const typed = /^(oci|oci-archive|docker-archive):(.*)$/s.exec(source);
  if (typed) {
    const [, kind, rest] = typed as unknown as [string, 'oci' | 'oci-archive' | 'docker-archive', string];
    if (!rest) throw usage(`${kind}: needs a path, e.g. ${kind}:${kind === 'oci' ? 'DIR' : 'FILE.tar'}`);
    const [path, suffix] = splitPath(rest, kind === 'oci' ? 'dir' : 'file', stat);
    if (stat(path) !== (kind === 'oci' ? 'dir' : 'file'))
      throw new SifError('SIF_E_BUILD_SOURCE', `${source}: no ${kind === 'oci' ? 'directory' : 'file'} ${path}`);
    const pick = suffix === undefined || suffix === '' ? {} : kind === 'docker-archive' ? { ref: suffix } : { tag: suffix };
    return { kind, path, ...pick };
  }
  const what = stat(source);
  if (what === 'dir') return { kind: 'sandbox', path: source };
  if (what === 'file') return { kind: 'image', path: source };
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(source))
    throw usage(`unknown source type in ${source}`, 'sources: docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, a directory, a SIF or squashfs file');
  throw new SifError('SIF_E_BUILD_SOURCE', `no such file or directory: ${source}`, {
    hint: `for a registry image write docker://${source}`,
  });
}
