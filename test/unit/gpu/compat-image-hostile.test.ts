// --nv-compat's reader (compat-image.ts) on crafted squashfs images: a library that
// claims 4 GiB, a FIFO or a device where a library should be. Each is left out (the
// planner notes it), never an error that stops --nv nor a read of the claimed size.
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { compatImage } from '../../../src/gpu/compat-image.js';
import { imageInfo } from '../../../src/image/open-image.js';
import { type CraftedNode, craftSquashfs } from '../../support/crafted-squashfs.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sif-compat-hostile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function compatWith(libcuda: CraftedNode) {
  const path = join(dir, 'compat.sqfs');
  const nodes: CraftedNode[] = [
    { kind: 'dir', entries: [['usr', 1]] },
    { kind: 'dir', entries: [['local', 2]] },
    { kind: 'dir', entries: [['cuda', 3]] },
    { kind: 'dir', entries: [['compat', 4]] },
    { kind: 'dir', entries: [['libcuda.so.999.1.1', 5]] },
    libcuda,
  ];
  craftSquashfs(path, { nodes });
  const fd = openSync(path, 'r');
  try {
    return compatImage(imageInfo(fd, fstatSync(fd).size, path));
  } finally {
    closeSync(fd);
  }
}

it.each([
  ['a file claiming 4 GiB', { kind: 'file', size: 0xffffffff, blocks: [] } as CraftedNode],
  ['a file claiming 2^62 bytes', { kind: 'file', size: 2 ** 62, blocks: [], extended: true } as CraftedNode],
  ['a FIFO', { kind: 'fifo' } as CraftedNode],
  ['a device node', { kind: 'chardev' } as CraftedNode],
])('a libcuda that is %s is left out', (_, node) => {
  const img = compatWith(node);
  try {
    expect(img.list('/usr/local/cuda/compat')).toEqual(['libcuda.so.999.1.1']);
    expect(img.library('/usr/local/cuda/compat/libcuda.so.999.1.1')).toBeUndefined();
  } finally {
    img.close();
  }
});
