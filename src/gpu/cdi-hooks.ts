import type { CdiHook } from './cdi-spec.js';

/**
 * What a CDI hook would do, where sif can do it without running it. Hooks run as root
 * in the container's namespaces and write into its root filesystem (NVIDIA's run
 * ldconfig there, make links, chmod), none of which a rootless run of a read-only image
 * can do. Two of NVIDIA's have an effect sif gets another way:
 *   update-ldcache --folder F, create-soname-symlinks --folder F: the libraries mounted
 *     under F found by the loader (their soname links in /.singularity.d/libs, which is
 *     on the library path);
 *   create-symlinks --link TARGET::LINK: the link made (see plan-cdi.ts for where).
 * Anything else is skipped, and said so.
 */
export type HookEffect =
  | { kind: 'library-folders'; folders: string[] }
  | { kind: 'links'; links: { target: string; link: string }[] }
  | { kind: 'skip'; why: string };

const NVIDIA_HOOK_PROGRAMS = new Set(['nvidia-cdi-hook', 'nvidia-ctk']);

/** The hook as a command line, for messages. */
export function hookCommand(h: CdiHook): string {
  return [h.path, ...h.args.slice(1)].join(' ');
}

/** Values of --NAME V and --NAME=V in args. */
function flagValues(args: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}` && i + 1 < args.length) out.push(args[++i]!);
    else if (args[i]!.startsWith(`--${name}=`)) out.push(args[i]!.slice(name.length + 3));
  }
  return out;
}

export function hookEffect(h: CdiHook): HookEffect {
  const program = h.path.slice(h.path.lastIndexOf('/') + 1);
  if (!NVIDIA_HOOK_PROGRAMS.has(program)) return { kind: 'skip', why: 'not a hook sif knows' };
  // args[0] is the program's name; nvidia-ctk takes "hook" before the subcommand.
  const rest = h.args.slice(1);
  const at = rest.findIndex((a) => !a.startsWith('-') && a !== 'hook');
  const sub = at < 0 ? undefined : rest[at];
  const opts = at < 0 ? [] : rest.slice(at + 1);
  if (sub === 'update-ldcache' || sub === 'create-soname-symlinks') {
    const folders = flagValues(opts, 'folder').filter((f) => f.startsWith('/'));
    return folders.length ? { kind: 'library-folders', folders } : { kind: 'skip', why: 'it names no library folder' };
  }
  if (sub === 'create-symlinks') {
    const links: { target: string; link: string }[] = [];
    for (const spec of flagValues(opts, 'link')) {
      const sep = spec.indexOf('::');
      if (sep > 0 && spec.slice(sep + 2).startsWith('/')) links.push({ target: spec.slice(0, sep), link: spec.slice(sep + 2) });
    }
    return links.length ? { kind: 'links', links } : { kind: 'skip', why: 'it names no link' };
  }
  return { kind: 'skip', why: `'${sub ?? ''}' needs root in the container` };
}
