import type { GpuHostFacts } from '../../../src/host/gpu-host-facts.js';
import type { LdCacheEntry } from '../../../src/host/elf/ld-so-cache.js';

/** A host described by a file table: path -> symlink target, ELF kind or executable. */
export interface FakeHost {
  version?: string;
  cache?: LdCacheEntry[];
  conf?: string;
  /** Symlinks, resolved one level (absolute targets). */
  links?: Record<string, string>;
  /** Regular files and their ELF class (64 = x86-64, 32 = i386; 0 = not ELF, executable). */
  files?: Record<string, 0 | 32 | 64>;
  devices?: string[];
  env?: Record<string, string>;
  socket?: string;
  /** ICD and vendor files by path. */
  icd?: Record<string, string>;
  mps?: string;
  /** /proc/driver/nvidia/gpus/<bus>/information texts by bus id. */
  information?: Record<string, string>;
  migMinors?: string;
  /** nvidia-smi -L's answer. */
  smiList?: string;
}

export const VERSION_TEXT = (v: string) => `NVRM version: NVIDIA UNIX x86_64 Kernel Module  ${v}  Thu Feb 15 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n`;

export function fakeGpuHost(h: FakeHost): GpuHostFacts & { asked: string[] } {
  const asked: string[] = [];
  const files = h.files ?? {};
  const links = h.links ?? {};
  const exists = (p: string) => p in files || p in links;
  return {
    asked,
    driverVersionText: () => (asked.push('version'), h.version === undefined ? undefined : VERSION_TEXT(h.version)),
    ldCache: () => (asked.push('cache'), h.cache ?? []),
    cacheFlags: () => 0x0303,
    siteConfig: () => (asked.push('conf'), h.conf),
    listDir: (dir) => {
      const names = Object.keys({ ...files, ...links }).filter((p) => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/'));
      return names.length ? names.map((p) => p.slice(dir.length + 1)) : undefined;
    },
    realPath: (p) => {
      let at = p;
      for (let i = 0; i < 8 && at in links; i++) at = links[at]!;
      return at in files ? at : undefined;
    },
    elfKind: (p) => {
      let at = p;
      while (at in links) at = links[at]!;
      const k = files[at];
      return k ? { elfClass: k, machine: k === 64 ? 62 : 3 } : undefined;
    },
    elfMachine: () => 62,
    isExecutable: (p) => exists(p) && files[p] === 0,
    deviceNodes: () => (asked.push('dev'), (h.devices ?? []).map((name) => ({ name, path: `/dev/${name}` }))),
    gpuInformation: () => (asked.push('information'), h.information ? Object.entries(h.information).map(([busId, text]) => ({ busId, text })) : undefined),
    migMinors: () => (asked.push('mig-minors'), h.migMinors),
    nvidiaSmiList: (program) => (asked.push(`smi ${program}`), h.smiList),
    binaryDirs: () => ['/usr/bin'],
    driverFile: (p) => h.icd?.[p],
    mpsPipeDir: () => (h.mps ? { path: h.mps, src: h.mps } : undefined),
    persistencedSocket: () => h.socket,
    env: h.env ?? {},
  };
}

/** A driver of version v installed the Debian way: soname links in the multiarch directories, in the cache. */
export function debianDriver(v: string, libs = ['libcuda', 'libnvidia-ml', 'libnvidia-ptxjitcompiler']): Pick<FakeHost, 'cache' | 'links' | 'files'> {
  const cache: LdCacheEntry[] = [];
  const links: Record<string, string> = {};
  const files: Record<string, 0 | 32 | 64> = {};
  for (const [dir, flags, cls] of [['/usr/lib/x86_64-linux-gnu', 0x0303, 64], ['/usr/lib/i386-linux-gnu', 0x0003, 32]] as const) {
    for (const lib of libs) {
      files[`${dir}/${lib}.so.${v}`] = cls;
      links[`${dir}/${lib}.so.1`] = `${dir}/${lib}.so.${v}`;
      cache.push({ soname: `${lib}.so.1`, path: `${dir}/${lib}.so.1`, flags, hwcap: 0n });
    }
  }
  return { cache, links, files };
}
