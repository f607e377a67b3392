/**
 * The fallback to reading /etc/ld.so.cache: the text of `ldconfig -p`, as ldconfig's
 * print_entry writes it ("\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1").
 * Read the cache itself where possible: this text loses the hwcap details.
 */
import { EM_PPC64, EM_RISCV } from './elf-constants.js';
import type { LdCacheEntry } from './ld-so-cache.js';

const ARCH_WORDS: Record<string, number> = {
  'x86-64': 0x0300,
  x32: 0x0800,
  'IA-64': 0x0200,
  'hard-float': 0x0900,
  AArch64: 0x0a00,
  'double-float': 0x1000,
  N32: 0x0600,
};

const TYPE_WORDS: Record<string, number> = { libc4: 0x0000, ELF: 0x0001, libc5: 0x0002, libc6: 0x0003 };

/** "64bit" means a different flag per machine: the host's machine decides. */
function sixtyFourBit(hostMachine: number): number {
  if (hostMachine === EM_PPC64) return 0x0500;
  if (hostMachine === 22) return 0x0400; // s390x
  return 0x0100;
}

export function parseLdconfigPrint(text: string, hostMachine: number): LdCacheEntry[] {
  const out: LdCacheEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s+(\S+) \(([^)]*)\) => (.+)$/.exec(line);
    if (!m) continue;
    const words = m[2]!.split(',').map((w) => w.trim());
    let flags = TYPE_WORDS[words[0]!] ?? 0x0001;
    let hwcap = 0n;
    for (const w of words.slice(1)) {
      if (w === '64bit') flags |= sixtyFourBit(hostMachine);
      else if (w === 'soft-float') flags |= hostMachine === EM_RISCV ? 0x0f00 : 0x0b00;
      else if (w in ARCH_WORDS) flags |= ARCH_WORDS[w]!;
      else if (w.startsWith('hwcap:')) hwcap = 1n; // a subdirectory entry: never the base library
    }
    out.push({ soname: m[1]!, path: m[3]!, flags, hwcap });
  }
  return out;
}
