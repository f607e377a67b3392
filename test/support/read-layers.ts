// Reading a resolved image's layers whole, as the merge does (top first), each
// checked against its descriptor's digest and size; shared by the registry tests.
import { createHash } from 'node:crypto';
import { expect } from '@jest/globals';
import type { ResolvedImage } from '../../src/build/image-source.js';

/** Reads every layer, top first; returns their sizes in that order. */
export async function readLayers(img: ResolvedImage): Promise<number[]> {
  const sizes: number[] = [];
  for (const layer of [...img.layers].reverse()) {
    const hash = createHash('sha256');
    let n = 0;
    for await (const c of await layer.open()) {
      hash.update(c as Buffer);
      n += (c as Buffer).length;
    }
    expect(`sha256:${hash.digest('hex')}`).toBe(layer.descriptor.digest);
    expect(n).toBe(layer.descriptor.size);
    sizes.push(n);
  }
  return sizes;
}

/** Opens an image, reads all its layers and closes it. */
export async function pullWhole(open: Promise<ResolvedImage>): Promise<ResolvedImage> {
  const img = await open;
  try {
    await readLayers(img);
  } finally {
    await img.close();
  }
  return img;
}
