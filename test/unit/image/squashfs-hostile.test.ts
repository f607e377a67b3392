// Hostile squashfs images, crafted byte by byte (test/support/crafted-squashfs.ts): loops, links that
// point out, huge claims, offsets out of range. Each must give a result read inside the
// image or a SifError, quickly; never another exception, a hang or an unbounded read.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { SifError } from '../../../src/errors.js';
import type { SquashfsReader } from '../../../src/image/squashfs-reader.js';
import { BLOCK_UNCOMPRESSED, type CraftedImage, type CraftedNode, craftSquashfs, DATA_START } from '../../support/crafted-squashfs.js';
import { expectSifErrorSync, makeTmpDir, withReader } from './support.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
afterEach(() => cleanup());

let serial = 0;
function withCrafted<T>(img: CraftedImage, fn: (r: SquashfsReader) => T): T {
  const path = join(dir, `crafted-${serial++}.sqfs`);
  craftSquashfs(path, img);
  return withReader(path, fn);
}

/** Runs fn, which must end (a value or a SifError) within `ms`; returns the value or the error. */
function bounded<T>(ms: number, fn: () => T): T | SifError {
  const t0 = performance.now();
  let out: T | SifError;
  try {
    out = fn();
  } catch (e) {
    if (!(e instanceof SifError)) throw e;
    out = e;
  }
  expect(performance.now() - t0).toBeLessThan(ms);
  return out;
}

const file = (text: string): CraftedNode => ({ kind: 'file', data: Buffer.from(text) });

/** / holds etc/passwd ("image") and usr/local/cuda/compat, which is `compat`. */
function tree(compat: CraftedNode): CraftedNode[] {
  return [
    { kind: 'dir', entries: [['etc', 1], ['usr', 3]] }, // 0 /
    { kind: 'dir', entries: [['passwd', 2]] }, // 1 /etc
    file('image\n'), // 2
    { kind: 'dir', entries: [['local', 4]] }, // 3 /usr
    { kind: 'dir', entries: [['cuda', 5]] }, // 4 /usr/local
    { kind: 'dir', entries: [['compat', 6]] }, // 5 /usr/local/cuda
    compat, // 6
  ];
}

describe('crafted squashfs images', () => {
  it('reads a well-formed crafted image (the builder is sound)', () => {
    withCrafted({ nodes: tree({ kind: 'dir', entries: [] }) }, (r) => {
      expect(r.list('/')).toEqual(['etc', 'usr']);
      expect(r.readFile('/etc/passwd')?.toString()).toBe('image\n');
      expect(r.list('/usr/local/cuda/compat')).toEqual([]);
    });
  });

  it('symlinks pointing out of the image resolve inside it: /proc/self/... is absent, ../../.. stops at its root', () => {
    withCrafted({ nodes: tree({ kind: 'symlink', target: '/proc/self/root/etc' }) }, (r) => {
      expect(r.list('/usr/local/cuda/compat')).toBeNull();
      expect(r.readFile('/usr/local/cuda/compat/passwd')).toBeNull();
    });
    withCrafted({ nodes: tree({ kind: 'symlink', target: '../../../../../../../../etc' }) }, (r) => {
      expect(r.list('/usr/local/cuda/compat')).toEqual(['passwd']);
      expect(r.readFile('/usr/local/cuda/compat/passwd')?.toString()).toBe('image\n'); // the image's, not the host's
    });
  });

  it('a symlink loop is an error naming it', () => {
    const nodes: CraftedNode[] = [{ kind: 'dir', entries: [['a', 1], ['b', 2]] }, { kind: 'symlink', target: 'b' }, { kind: 'symlink', target: '/a' }];
    withCrafted({ nodes }, (r) => expectSifErrorSync(() => r.readFile('/a'), 'SIF_E_IMAGE_CORRUPT', 'more than 16 symlinks'));
  });

  it('a directory loop walked through long symlinks ends quickly, even through a directory of 100,000 entries', () => {
    // /loop holds 100,000 entries, "self" (a hard link to /loop itself: a loop) among
    // them; /s0 -> loop/self/self/... (800 components, a 4000-byte target), s1 -> s0/self/...,
    // and so on: some 12,000 steps, each in a listing of 3 MB.
    const entries: Array<[string, number]> = Array.from({ length: 100_000 }, (_, i) => [`libx${String(i).padStart(6, '0')}.so`, 2]);
    entries.push(['self', 1]);
    const self = Array.from({ length: 800 }, () => 'self').join('/');
    const links: CraftedNode[] = Array.from({ length: 15 }, (_, k) => ({ kind: 'symlink', target: k === 0 ? `loop/${self}` : `s${k - 1}/${self}` }));
    const nodes: CraftedNode[] = [
      { kind: 'dir', entries: [['loop', 1], ...links.map((_, k): [string, number] => [`s${k}`, 3 + k])] },
      { kind: 'dir', entries, extended: true },
      file('x'),
      ...links,
    ];
    withCrafted({ nodes }, (r) => {
      expect(bounded(5000, () => r.list('/loop'))).toHaveLength(100_001);
      // 15 hops (of 16) and ~12,000 steps (of 65,536), the listing parsed once (cached).
      const out = bounded(5000, () => r.readFile('/s14/libx000001.so'));
      expect(out instanceof SifError ? out.message : out?.toString()).toBe('x');
    });
  });

  it('a lookup walking more path components than sif follows is an error naming it', () => {
    // /d is a directory holding itself as x; /s -> d/x/x/...(400)/../..(400): each ".."
    // walks the path again from the root, some 80,000 steps from a 2 kB target.
    const target = `d/${'x/'.repeat(400)}${'../'.repeat(400)}`;
    const nodes: CraftedNode[] = [{ kind: 'dir', entries: [['d', 1], ['s', 2]] }, { kind: 'dir', entries: [['x', 1]] }, { kind: 'symlink', target }];
    withCrafted({ nodes }, (r) => {
      const out = bounded(5000, () => r.list('/s'));
      expect(out instanceof SifError ? `${out.code} ${out.message}` : out).toMatch(/^SIF_E_IMAGE_CORRUPT .*walks more than 65536 path components/);
    });
  });

  it('a lookup parsing more directory listings than sif reads is an error naming it', () => {
    // /a and /a/b hold each other, 140,000 entries each: together past the entries kept
    // parsed, so each step of /a/b/a/b/... parses a listing of ~2.7 MB again.
    const many = (other: number): Array<[string, number]> => [
      ...Array.from({ length: 140_000 }, (_, i): [string, number] => [`n${String(i).padStart(6, '0')}`, 3]),
      [other === 1 ? 'a' : 'b', other],
    ];
    const nodes: CraftedNode[] = [{ kind: 'dir', entries: [['a', 1]] }, { kind: 'dir', entries: many(2), extended: true }, { kind: 'dir', entries: many(1), extended: true }, file('x')];
    withCrafted({ nodes }, (r) => {
      const out = bounded(10_000, () => r.list(`/a/${'b/a/'.repeat(15)}`));
      expect(out instanceof SifError ? `${out.code} ${out.message}` : out).toMatch(/^SIF_E_IMAGE_CORRUPT .*bytes of directory listings/);
    });
  });

  it('a file claiming a huge size is refused before anything is read', () => {
    const nodes = (n: CraftedNode): CraftedNode[] => [{ kind: 'dir', entries: [['big', 1]] }, n];
    withCrafted({ nodes: nodes({ kind: 'file', size: 0xffffffff, blocks: [] }) }, (r) => {
      expectSifErrorSync(() => r.readFile('/big'), 'SIF_E_IMAGE_BAD_OBJECT', '4294967295');
      expectSifErrorSync(() => r.fileReader('/big'), 'SIF_E_IMAGE_BAD_OBJECT', '4294967295');
    });
    withCrafted({ nodes: nodes({ kind: 'file', size: 2 ** 62, blocks: [], extended: true }) }, (r) => {
      expectSifErrorSync(() => r.readFile('/big'), 'SIF_E_IMAGE_BAD_OBJECT', '/big');
    });
  });

  it('block and fragment offsets out of range are SIF_E_IMAGE_CORRUPT', () => {
    const one = (n: CraftedNode, img: Partial<CraftedImage> = {}) => ({ nodes: [{ kind: 'dir', entries: [['f', 1]] }, n] as CraftedNode[], ...img });
    // A data block past the filesystem's end.
    withCrafted(one({ kind: 'file', size: 100, blocks: [100 | BLOCK_UNCOMPRESSED], blocksStart: 1 << 30 }), (r) => {
      expectSifErrorSync(() => r.readFile('/f'), 'SIF_E_IMAGE_CORRUPT', 'outside the filesystem');
      expectSifErrorSync(() => r.fileReader('/f')!.read(0, 10), 'SIF_E_IMAGE_CORRUPT', 'outside the filesystem');
    });
    // A fragment index past the table, and a tail offset past its fragment.
    withCrafted(one({ kind: 'file', size: 10, blocks: [], fragment: 7 }, { fragments: [{ start: DATA_START, size: 64 | BLOCK_UNCOMPRESSED }], extraData: Buffer.alloc(64, 1) }), (r) =>
      expectSifErrorSync(() => r.readFile('/f'), 'SIF_E_IMAGE_CORRUPT', 'fragment 7 of 1'),
    );
    withCrafted(one({ kind: 'file', size: 10, blocks: [], fragment: 0, fragmentOffset: 0xfffffff0 }, { fragments: [{ start: DATA_START, size: 64 | BLOCK_UNCOMPRESSED }], extraData: Buffer.alloc(64, 1) }), (r) => {
      expectSifErrorSync(() => r.readFile('/f'), 'SIF_E_IMAGE_CORRUPT', 'outside its fragment');
      expectSifErrorSync(() => r.fileReader('/f')!.read(0, 10), 'SIF_E_IMAGE_CORRUPT', 'outside its fragment');
    });
    // A fragment block placed past the end.
    withCrafted(one({ kind: 'file', size: 10, blocks: [], fragment: 0 }, { fragments: [{ start: 2 ** 40, size: 64 | BLOCK_UNCOMPRESSED }] }), (r) =>
      expectSifErrorSync(() => r.readFile('/f'), 'SIF_E_IMAGE_CORRUPT', 'outside the filesystem'),
    );
    // A stored block larger than the filesystem's block size (no writer makes one).
    withCrafted(one({ kind: 'file', size: 4096, blocks: [(1 << 20) | BLOCK_UNCOMPRESSED], blocksStart: DATA_START }, { extraData: Buffer.alloc(1 << 20, 2) }), (r) => {
      expectSifErrorSync(() => r.readFile('/f'), 'SIF_E_IMAGE_CORRUPT', 'block size');
      expectSifErrorSync(() => r.fileReader('/f')!.read(0, 10), 'SIF_E_IMAGE_CORRUPT', 'block size');
    });
  });

  it('a metadata block holding more than 8 KiB is SIF_E_IMAGE_CORRUPT, stored or compressed', () => {
    // Enough inodes for the inode table to pass 8 KiB: 400 files of a few bytes.
    const nodes: CraftedNode[] = [{ kind: 'dir', entries: Array.from({ length: 400 }, (_, i): [string, number] => [`f${i}`, i + 1]) }];
    for (let i = 0; i < 400; i++) nodes.push(file(`${i}`));
    withCrafted({ nodes }, (r) => expect(r.readFile('/f399')?.toString()).toBe('399')); // 8 KiB blocks: fine
    withCrafted({ nodes, oversizeFirstInodeBlock: 20000 }, (r) => expectSifErrorSync(() => r.readFile('/f399'), 'SIF_E_IMAGE_CORRUPT', 'metadata block'));
    withCrafted({ nodes, oneDeflatedInodeBlock: true }, (r) => expectSifErrorSync(() => r.readFile('/f399'), 'SIF_E_IMAGE_CORRUPT', 'does not inflate'));
  });

  it('a FIFO or a device where a file is expected is no file: null, nothing opened', () => {
    const nodes: CraftedNode[] = [{ kind: 'dir', entries: [['fifo', 1], ['dev', 2]] }, { kind: 'fifo' }, { kind: 'chardev' }];
    withCrafted({ nodes }, (r) => {
      expect(r.readFile('/fifo')).toBeNull();
      expect(r.fileReader('/dev')).toBeNull();
      expect(r.list('/')).toEqual(['dev', 'fifo']);
    });
  });
});
