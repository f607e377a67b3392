/** Reading digest-addressed blobs from a local layout or archive, verified. */
import { SifError } from '../../errors.js';
import type { Descriptor, LayerBlob, OciConfigFile, ResolvedImage } from '../image-source.js';
import type { FileTree } from './file-tree.js';
import { verifyBytes, verifyingStream } from './verified-stream.js';
import type { Readable } from 'node:stream';

const LAYER_TYPES = /^application\/vnd\.(oci\.image\.layer(\.nondistributable)?\.v1\.tar(\+gzip|\+zstd)?|docker\.image\.rootfs\.(foreign\.)?diff\.tar(\.gzip)?)$/;

export async function readJsonBlob<T>(tree: FileTree, rel: string, desc: Descriptor, where: string): Promise<T> {
  const bytes = await tree.read(rel);
  verifyBytes(bytes, desc.digest, desc.size, where);
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (cause) {
    throw new SifError('SIF_E_BUILD_SOURCE', `${where} is not valid JSON`, { cause });
  }
}

/** A layer read through `open`, checked against its digest when `digest` is given. */
export function layerBlob(desc: Descriptor, open: () => Promise<Readable>, where: string, verify = true): LayerBlob {
  if (!LAYER_TYPES.test(desc.mediaType))
    throw new SifError('SIF_E_BUILD_SOURCE', `${where}: unsupported layer type ${desc.mediaType}`, {
      hint: desc.mediaType.includes('encrypted') ? 'encrypted layers are not supported' : undefined,
    });
  return {
    descriptor: desc,
    async open() {
      const raw = await open();
      if (!verify) return raw;
      const checked = verifyingStream(desc.digest, desc.size, where);
      raw.on('error', (e) => checked.destroy(e));
      return raw.pipe(checked);
    },
  };
}

/** The image found in `tree`; closing it closes the tree (once). */
export function imageFromTree(tree: FileTree, source: string, config: OciConfigFile, layers: LayerBlob[],
  manifestDigest?: string): ResolvedImage {
  let closed = false;
  return {
    source,
    ...(manifestDigest === undefined ? {} : { manifestDigest }),
    config,
    layers,
    close: async () => {
      if (!closed) await tree.close();
      closed = true;
    },
  };
}
