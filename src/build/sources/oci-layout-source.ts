/**
 * An image from an OCI image layout (image-spec image-layout.md), in a directory
 * (`oci:DIR[:TAG]`) or in an uncompressed tar of one (`oci-archive:FILE[:TAG]`).
 * Every manifest, config and layer is checked against its digest as it is read.
 */
import { SifError } from '../../errors.js';
import type { Descriptor, OciConfigFile, ResolvedImage } from '../image-source.js';
import { INDEX_TYPES, MANIFEST_TYPES, type ManifestJson } from '../image-source.js';
import type { FileTree } from './file-tree.js';
import { imageFromTree, layerBlob, readJsonBlob } from './blob-reading.js';
import { parseDigest } from './verified-stream.js';

export type PlatformChooser = (manifests: readonly Descriptor[], describe: string) => Descriptor;

const REF_NAME = 'org.opencontainers.image.ref.name';

interface IndexJson { manifests?: Descriptor[] }

/** The layout's path of a blob; a digest that is not one (`sha256:../x`) is refused before any read. */
export function blobPath(digest: string): string {
  const { algorithm, hex } = parseDigest(digest, 'OCI layout');
  return `blobs/${algorithm}/${hex}`;
}

/** The index.json entry named `tag` (a bare tag or a full reference ending in it). */
export function pickTagged(entries: readonly Descriptor[], tag: string | undefined, describe: string): Descriptor {
  const name = (d: Descriptor) => d.annotations?.[REF_NAME];
  if (tag === undefined) {
    if (entries.length === 1) return entries[0]!;
    const latest = entries.filter((d) => name(d) === 'latest');
    if (latest.length === 1) return latest[0]!;
  } else {
    const hits = entries.filter((d) => name(d) === tag || name(d)?.endsWith(`:${tag}`));
    if (hits.length >= 1) return hits[0]!;
    if (tag.startsWith('sha256:')) {
      const byDigest = entries.find((d) => d.digest === tag);
      if (byDigest) return byDigest;
    }
  }
  const tags = entries.map(name).filter((n): n is string => !!n);
  const what = tag === undefined ? 'holds several images; name one' : `has no image tagged ${JSON.stringify(tag)}`;
  throw new SifError('SIF_E_BUILD_SOURCE', `${describe} ${what}`, {
    hint: tags.length ? `tags there: ${tags.join(', ')} (use ${describe}:TAG)` : 'its index.json names no tags',
  });
}

export async function openOciLayout(tree: FileTree, source: string, tag: string | undefined,
  choose: PlatformChooser): Promise<ResolvedImage> {
  try {
    const layout = await tree.read('oci-layout').catch(() => null);
    if (!layout) throw new SifError('SIF_E_BUILD_SOURCE', `${tree.describe} is not an OCI image layout (no oci-layout file)`);
    const index = JSON.parse((await tree.read('index.json')).toString('utf8')) as IndexJson;
    if (!Array.isArray(index.manifests))
      throw new SifError('SIF_E_BUILD_SOURCE', `${tree.describe}: index.json has no manifests list`);
    let desc = pickTagged(index.manifests, tag, source);
    for (let depth = 0; INDEX_TYPES.includes(desc.mediaType); depth++) {
      if (depth > 4) throw new SifError('SIF_E_BUILD_SOURCE', `${source}: image indexes nest too deeply`);
      const nested = await readJsonBlob<ManifestJson>(tree, blobPath(desc.digest), desc, `${source}: index ${desc.digest}`);
      desc = choose(nested.manifests ?? [], source);
    }
    if (!MANIFEST_TYPES.includes(desc.mediaType))
      throw new SifError('SIF_E_BUILD_SOURCE', `${source}: unsupported manifest type ${desc.mediaType}`);
    const manifest = await readJsonBlob<ManifestJson>(tree, blobPath(desc.digest), desc, `${source}: manifest ${desc.digest}`);
    if (!manifest.config || !Array.isArray(manifest.layers))
      throw new SifError('SIF_E_BUILD_SOURCE', `${source}: manifest ${desc.digest} has no config or layers`);
    const config = await readJsonBlob<OciConfigFile>(tree, blobPath(manifest.config.digest), manifest.config,
      `${source}: config ${manifest.config.digest}`);
    const layers = manifest.layers.map((l) => layerBlob(l, () => tree.open(blobPath(l.digest)), `${source}: layer ${l.digest}`));
    return imageFromTree(tree, source, config, layers, desc.digest);
  } catch (e) {
    await tree.close();
    throw e;
  }
}
