/**
 * What every build source (registry, OCI layout, OCI or Docker archive) resolves
 * to: one image for one platform, its config, and its layers bottom first. The
 * merge reads layers through open(), so a source may still be fetching lower
 * layers while the upper ones are merged.
 */
import type { Readable } from 'node:stream';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Media types of an index (a list of manifests, one per platform) and of one image's manifest. */
export const INDEX_TYPES: readonly string[] = [MEDIA.ociIndex, MEDIA.dockerList];
export const MANIFEST_TYPES: readonly string[] = [MEDIA.ociManifest, MEDIA.dockerManifest];

/** An index or a manifest, as parsed (fields checked where used). */
export interface ManifestJson {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  fsLayers?: unknown[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  /** 'sha256:<64 hex>' (sha512 accepted where the spec allows it). */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform & { 'os.version'?: string; 'os.features'?: string[] };
  urls?: string[];
}

/** The OCI image config file (image-spec config.md); unknown keys are kept. */
export interface OciConfigFile {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    [key: string]: unknown;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: unknown[];
  [key: string]: unknown;
}

export interface LayerBlob {
  descriptor: Descriptor;
  /**
   * The layer's bytes as stored (gzip, zstd or plain tar), resolving once they are
   * available. A source whose bytes are not yet verified against the digest makes
   * the stream fail (SIF_E_BUILD_DIGEST) at its end when they do not match.
   */
  open(): Promise<Readable>;
}

export interface ResolvedImage {
  /** The source as the user named it, for messages and metadata. */
  source: string;
  /** The chosen manifest's digest, when known. */
  manifestDigest?: string;
  config: OciConfigFile;
  /** Bottom layer first, as in the manifest. */
  layers: LayerBlob[];
  /** Releases files, connections and background downloads; safe to call twice. */
  close(): Promise<void>;
}
