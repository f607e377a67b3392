import type { CdiHostFacts } from '../host/cdi-host-facts.js';
import { hookCommand, hookEffect } from './cdi-hooks.js';
import { type CdiRegistry, resolveCdiDevices } from './cdi-registry.js';
import type { CdiEdits } from './cdi-spec.js';
import { CONTAINER_LIB_DIR } from './nvidia-files.js';

export interface CdiRequest {
  /** --device values: vendor.com/class=name. */
  devices: readonly string[];
  /** --contain: /dev is minimal, so every device node is bound into it. */
  contain: boolean;
}

export interface CdiPlan {
  /** The devices applied, by qualified name. */
  devices: string[];
  /** Binds: the specs' mounts and device nodes (read-only unless writable). */
  mounts: { src: string; dst: string; writable: boolean }[];
  /** Links made in /.singularity.d/libs (soname links, the create-symlinks hooks' library links). */
  links: { target: string; dst: string }[];
  env: Record<string, string>;
  /** Each hook and what sif did in its place, for --verbose. */
  hooks: string[];
  /** Every decision, for `sif doctor --gpu` and --debug. */
  notes: string[];
  warnings: string[];
}

const dirname = (p: string) => p.slice(0, Math.max(p.lastIndexOf('/'), 1));
const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const isLibraryName = (n: string) => /\.so(\.|$)/.test(n);

/** An absolute path with '.' and '..' taken out. */
function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '..') out.pop();
    else if (part && part !== '.') out.push(part);
  }
  return `/${out.join('/')}`;
}

/**
 * Plans --device: the edits of the CDI specs for the devices asked for (each spec's
 * common edits once, then each device's), as binds, links and variables. Device nodes
 * are bound where the container's /dev lacks them: with --contain every one; without
 * it /dev is the host's, bound whole, and holds them already. Hooks are not run (see
 * cdi-hooks.ts): the libraries they would have put in the loader's cache are found
 * through soname links in /.singularity.d/libs, which goes on the library path.
 */
export function planCdi(req: CdiRequest, reg: CdiRegistry, facts: CdiHostFacts): CdiPlan {
  const plan: CdiPlan = { devices: [], mounts: [], links: [], env: {}, hooks: [], notes: [], warnings: [] };
  const resolved = resolveCdiDevices(reg, req.devices);
  const edits: { edits: CdiEdits; from: string }[] = [];
  const specsDone = new Set<string>();
  for (const d of resolved) {
    plan.devices.push(d.name);
    if (!specsDone.has(d.spec.file)) {
      specsDone.add(d.spec.file);
      edits.push({ edits: d.spec.edits, from: `${d.spec.file} (common edits)` });
    }
    edits.push({ edits: d.edits, from: `${d.spec.file} device ${d.name}` });
    plan.notes.push(`device ${d.name}: ${d.spec.file} (cdiVersion ${d.spec.cdiVersion})`);
  }
  if (!req.contain && resolved.length) {
    plan.notes.push("without --contain the host's /dev is bound whole: every device node of the host is in the container, not only those of the devices named");
  }

  // Hooks first: the library folders decide where the libraries' links go.
  const folders = new Set<string>();
  const wantedLinks: { target: string; link: string; from: string }[] = [];
  const skipped: string[] = [];
  for (const { edits: e } of edits) {
    for (const h of e.hooks) {
      const effect = hookEffect(h);
      const cmd = hookCommand(h);
      if (effect.kind === 'library-folders') {
        effect.folders.forEach((f) => folders.add(normalize(f)));
        plan.hooks.push(`${h.hookName} hook ${cmd}: not run (needs root); the libraries under ${effect.folders.join(', ')} are found through ${CONTAINER_LIB_DIR} on the library path`);
      } else if (effect.kind === 'links') {
        for (const l of effect.links) wantedLinks.push({ ...l, from: cmd });
        plan.hooks.push(`${h.hookName} hook ${cmd}: not run (needs root); its links are made by sif`);
      } else {
        skipped.push(cmd);
        plan.hooks.push(`${h.hookName} hook ${cmd}: skipped: ${effect.why}`);
      }
    }
  }

  const envFrom: string[] = [];
  const mountAt = new Map<string, { src: string; dst: string; writable: boolean }>();
  const linkAt = new Map<string, string>();
  const addLink = (name: string, target: string, why: string) => {
    const dst = `${CONTAINER_LIB_DIR}/${name}`;
    if (linkAt.has(dst)) return;
    linkAt.set(dst, target);
    plan.links.push({ target, dst });
    plan.notes.push(`link ${dst} -> ${target} (${why})`);
  };
  for (const { edits: e, from } of edits) {
    for (const kv of e.env) {
      const eq = kv.indexOf('=');
      plan.env[kv.slice(0, eq)] = kv.slice(eq + 1);
      envFrom.push(kv);
    }
    for (const n of e.deviceNodes) {
      const src = n.hostPath ?? n.path;
      const dst = n.path;
      if (mountAt.has(dst)) continue;
      const kind = facts.fileKind(src);
      if (kind !== 'c' && kind !== 'b') {
        plan.warnings.push(`--device: the device node ${src} (${from}) ${kind ? 'is not a device node' : 'does not exist on this host'}: skipped`);
        continue;
      }
      if (!req.contain && (dst === '/dev' || dst.startsWith('/dev/'))) {
        if (src === dst) {
          plan.notes.push(`device node ${dst}: in the host's /dev, bound whole`);
          continue;
        }
        if (!facts.fileKind(dst)) {
          plan.warnings.push(`--device: the device node ${src} goes at ${dst}, which the host's /dev (bound whole without --contain) lacks: skipped; use --contain`);
          continue;
        }
      }
      const m = { src, dst, writable: false };
      mountAt.set(dst, m);
      plan.mounts.push(m);
      const kept = ['permissions', 'fileMode', 'uid', 'gid'].filter((k) => k in n);
      plan.notes.push(`device node ${dst} <- ${src}${kept.length ? ` (${kept.join(', ')} as on the host: a rootless run cannot change them)` : ''}`);
    }
    for (const m of e.mounts) {
      if (mountAt.has(m.containerPath)) continue;
      const bind = m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
      if (!bind) {
        plan.warnings.push(`--device: the ${m.type ?? 'untyped'} mount at ${m.containerPath} (${from}) is not a bind mount: skipped (only bind mounts are applied)`);
        continue;
      }
      if (!facts.fileKind(m.hostPath)) {
        plan.warnings.push(`--device: ${m.hostPath} (${from}) does not exist on this host: not mounted at ${m.containerPath}`);
        continue;
      }
      const b = { src: m.hostPath, dst: m.containerPath, writable: !m.options.includes('ro') };
      mountAt.set(b.dst, b);
      plan.mounts.push(b);
      plan.notes.push(`mount ${b.dst} <- ${b.src}${b.writable ? ' (read-write)' : ''}`);
      if (folders.has(dirname(b.dst)) && isLibraryName(basename(b.dst))) {
        const soname = facts.soname(b.src);
        if (soname) addLink(soname, b.dst, `soname of a library in ${dirname(b.dst)}`);
        else plan.notes.push(`${b.src}: no soname read; not linked in ${CONTAINER_LIB_DIR}`);
      }
    }
    for (const g of e.additionalGids) plan.warnings.push(`--device: group ${g} (${from}) cannot be added to a rootless container: skipped`);
  }

  for (const l of wantedLinks) {
    const target = l.target.startsWith('/') ? normalize(l.target) : normalize(`${dirname(l.link)}/${l.target}`);
    const inLibDir = linkAt.get(`${CONTAINER_LIB_DIR}/${basename(target)}`) !== undefined;
    if (folders.has(dirname(l.link))) {
      // A library's link: beside the soname links, on the library path.
      addLink(basename(l.link), inLibDir && dirname(target) === dirname(l.link) ? basename(target) : target, `create-symlinks ${l.link}`);
      continue;
    }
    // Elsewhere the image's directory cannot take a link: the file it names is bound there.
    const src = mountAt.get(target)?.src ?? plan.mounts.find((m) => m.dst === linkAt.get(`${CONTAINER_LIB_DIR}/${basename(target)}`))?.src;
    if (!src) {
      plan.warnings.push(`--device: cannot make the link ${l.link} -> ${l.target} (${l.from}): its target is none of the spec's mounts`);
      continue;
    }
    if (mountAt.has(l.link)) continue;
    const b = { src, dst: l.link, writable: false };
    mountAt.set(b.dst, b);
    plan.mounts.push(b);
    plan.notes.push(`mount ${l.link} <- ${src} (in place of the link to ${l.target})`);
  }
  if (skipped.length) {
    plan.warnings.push(`--device: ${skipped.length === 1 ? 'a CDI hook was' : `${skipped.length} CDI hooks were`} skipped (they need root in the container): ${skipped.join('; ')}`);
  }
  if (envFrom.length) plan.notes.push(`environment: ${envFrom.join(' ')}`);
  return plan;
}
