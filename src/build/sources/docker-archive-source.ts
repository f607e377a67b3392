/**
 * An image from a `docker save` archive (`docker-archive:FILE[:NAME:TAG]`): its
 * manifest.json names the config and the layer tars, read in place. Layers are
 * checked against the config's diff_ids (or the digest in their blobs/ path).
 */
import { SifError } from '../../errors.js';
import type { OciConfigFile, ResolvedImage } from '../image-source.js';
import { MEDIA } from '../image-source.js';
import { imageFromTree, layerBlob } from './blob-reading.js';
import type { FileTree } from './file-tree.js';
import { verifyBytes } from './verified-stream.js';

interface ArchiveEntry { Config?: string; RepoTags?: string[] | null; Layers?: string[] }

/** The digest a member's path names: `blobs/sha256/HEX` or `HEX.json` (docker and skopeo name them so). */
export function digestFromPath(path: string): string | undefined {
  const blob = /^blobs\/(sha256)\/([a-f0-9]{64})$/.exec(path);
  if (blob) return `${blob[1]}:${blob[2]}`;
  const json = /^([a-f0-9]{64})\.json$/.exec(path);
  return json ? `sha256:${json[1]}` : undefined;
}

export function pickArchiveEntry(entries: readonly ArchiveEntry[], ref: string | undefined, describe: string): ArchiveEntry {
  if (ref === undefined) {
    if (entries.length === 1) return entries[0]!;
  } else {
    const want = ref.includes(':') ? ref : `${ref}:latest`;
    const hit = entries.find((e) => (e.RepoTags ?? []).some((t) => t === want || t.endsWith(`/${want}`)));
    if (hit) return hit;
  }
  const tags = entries.flatMap((e) => e.RepoTags ?? []);
  const what = ref === undefined ? `holds ${entries.length} images; name one` : `has no image named ${JSON.stringify(ref)}`;
  throw new SifError('SIF_E_BUILD_SOURCE', `${describe} ${what}`, {
    hint: tags.length ? `images there: ${tags.join(', ')} (use docker-archive:FILE:NAME:TAG)` : 'its manifest.json names no tags',
  });
}

export async function openDockerArchive(tree: FileTree, source: string, ref: string | undefined): Promise<ResolvedImage> {
  try {
    if (!(await tree.has('manifest.json')))
      throw new SifError('SIF_E_BUILD_SOURCE', `${tree.describe} is not a docker-archive (no manifest.json)`, {
        hint: 'for an archive of an OCI layout use oci-archive:FILE',
      });
    const manifest = JSON.parse((await tree.read('manifest.json')).toString('utf8')) as ArchiveEntry[];
    if (!Array.isArray(manifest) || manifest.length === 0)
      throw new SifError('SIF_E_BUILD_SOURCE', `${source}: manifest.json lists no images`);
    const entry = pickArchiveEntry(manifest, ref, source);
    if (!entry.Config || !Array.isArray(entry.Layers))
      throw new SifError('SIF_E_BUILD_SOURCE', `${source}: manifest.json entry has no Config or Layers`);
    const configBytes = await tree.read(entry.Config);
    const configDigest = digestFromPath(entry.Config);
    if (configDigest) verifyBytes(configBytes, configDigest, undefined, `${source}: config ${entry.Config}`);
    const config = JSON.parse(configBytes.toString('utf8')) as OciConfigFile;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length)
      throw new SifError('SIF_E_BUILD_SOURCE', `${source}: the config lists ${diffIds.length} layers, manifest.json ${entry.Layers.length}`);
    const layers = await Promise.all(entry.Layers.map(async (path, i) => {
      const digest = digestFromPath(path) ?? diffIds[i]!;
      const desc = { mediaType: MEDIA.ociLayer, digest, size: await tree.size(path) };
      return layerBlob(desc, () => tree.open(path), `${source}: layer ${path}`);
    }));
    return imageFromTree(tree, source, config, layers);
  } catch (e) {
    await tree.close();
    throw e;
  }
}
