/**
 * `docker://REF` as a build source (the contract in ../image-source.ts): resolve
 * the reference to one manifest for the wanted platform, fetch its config (while
 * the layers start downloading), and hand out layers that stream from the cache or
 * from their download as it runs (layer-downloads.ts).
 *
 * Network use on a rebuild: a digest reference whose manifests, config and layers
 * are cached makes no request at all. A tag must be asked again (one HEAD of the
 * manifest; Docker Hub does not count HEADs against its pull limit), because tags
 * move; when the cache holds nothing the tag pointed at before, the manifest is
 * fetched at once (a HEAD first would only cost a round trip). When the registry
 * cannot be reached, the cache's last resolution of the tag is used with a warning;
 * `offline: true` uses it without trying.
 *
 * A single-platform image is returned whatever its platform: the caller checks
 * the config against the wanted one (platform.ts checkImagePlatform), as it does
 * for every source.
 */
import { SifError } from '../../errors.js';
import { BlobCache, readAll, type VerifiedBlob } from '../cache/blob-cache.js';
import { cacheRoot } from '../cache/cache-root.js';
import { INDEX_TYPES, MANIFEST_TYPES, type ManifestJson, type OciConfigFile, type Platform, type ResolvedImage } from '../image-source.js';
import { layerBlob } from '../sources/blob-reading.js';
import { lookupCredentials, type Credential } from './credentials.js';
import { familiarReference, formatReference, parseDockerReference, type DockerReference } from './docker-reference.js';
import { interrupted, isUnreachable, type HttpClientOptions } from './http.js';
import { fetchBlob, LayerDownloads, type BlobFetcherOptions, type LayerProgress } from './layer-downloads.js';
import { choosePlatform, hostPlatform, parsePlatform } from './platform.js';
import { parseManifest, RegistryClient } from './registry-client.js';

export type { LayerProgress } from './layer-downloads.js';

export interface RegistryImageOptions {
  /** Platform to choose from a multi-arch image: `amd64`, `arm64`, `arm/v7`, ... (default: the host's). */
  arch?: string;
  /** The same, already parsed (wins over `arch`). */
  platform?: Platform;
  /** Extra PEM files of CAs to trust (--ca-cert); SSL_CERT_FILE is read too. */
  caCerts?: string[];
  /** Skip TLS verification, and use plain HTTP when the registry has no TLS. */
  insecure?: boolean;
  /** Used instead of any stored login. */
  credentials?: { username: string; password: string };
  /** Layer downloads at once (default 3). */
  concurrency?: number;
  cache?: BlobCache;
  /** Aborting stops every download and leaves no partial cache entry. */
  signal?: AbortSignal;
  onProgress?: (p: LayerProgress) => void;
  /** Things worth telling the user (ignored credential helpers, corrupt cache entries, offline fallback). */
  onWarning?: (message: string) => void;
  /** Use only the cache; never contact the registry. */
  offline?: boolean;
  /** For HOME, XDG_*, DOCKER_CONFIG, SSL_CERT_FILE (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Retry and timeout tuning. */
  http?: Pick<HttpClientOptions, 'tries' | 'retryBaseMs' | 'retryMaxMs' | 'timeoutMs' | 'onRetry'>;
}

/** A ResolvedImage with what the registry source knows beyond the contract. */
export interface RegistryImage extends ResolvedImage {
  reference: DockerReference;
  platform: Platform;
  /** The index the manifest was chosen from, for multi-arch images. */
  indexDigest?: string;
}

const DEFAULT_CONCURRENCY = 3;

interface Context {
  ref: DockerReference;
  name: string;
  cache: BlobCache;
  client: () => RegistryClient | null;
  opts: RegistryImageOptions;
  signal: AbortSignal;
}

/** A manifest by digest: from the cache (verified), else from the registry, then cached. */
async function manifestByDigest(c: Context, desc: { digest: string; size?: number; mediaType?: string }): Promise<{ json: ManifestJson; mediaType: string }> {
  const what = `manifest ${desc.digest} of ${c.name}`;
  let bytes: Buffer | null = null;
  try {
    bytes = await c.cache.readBytes(desc.digest, desc.size);
  } catch (e) {
    if (!(e instanceof SifError && e.code === 'SIF_E_BUILD_DIGEST')) throw e;
    c.opts.onWarning?.(`cached ${what} was corrupt and has been discarded`);
  }
  if (bytes) return parseManifest(bytes, desc.mediaType, what);
  const client = c.client();
  if (!client) throw notCached(what);
  const got = await client.manifest(c.ref.repository, desc.digest, c.signal);
  if (desc.size !== undefined && got.bytes.length !== desc.size)
    throw new SifError('SIF_E_BUILD_DIGEST', `${what} has ${got.bytes.length} bytes, its descriptor says ${desc.size}`);
  await c.cache.putBytes(got.digest, got.bytes);
  return { json: got.json, mediaType: desc.mediaType && INDEX_TYPES.concat(MANIFEST_TYPES).includes(desc.mediaType) ? desc.mediaType : got.mediaType };
}

function notCached(what: string): SifError {
  return new SifError('SIF_E_CACHE', `${what} is not in the cache, and the registry may not be contacted (offline)`, {
    hint: 'pull once with network access, or drop the offline option',
  });
}

/**
 * The digest (and type) the reference names: given, asked of the registry, or
 * remembered; with the manifest itself when it had to be fetched to learn that.
 */
async function resolveTop(c: Context): Promise<{ digest: string; mediaType?: string; fetched?: { json: ManifestJson; mediaType: string } }> {
  const { ref } = c;
  if (ref.digest) return { digest: ref.digest };
  const key = formatReference({ registry: ref.registry, repository: ref.repository, tag: ref.tag! });
  const remembered = async (why: string, cause?: unknown) => {
    const rec = await c.cache.tags.get(key);
    if (!rec) {
      if (cause) throw cause;
      throw notCached(`the resolution of ${c.name}`);
    }
    c.opts.onWarning?.(`${why}; using ${rec.digest}, what ${c.name} pointed at on ${rec.resolvedAt}`);
    return { digest: rec.digest, mediaType: rec.mediaType };
  };
  const client = c.client();
  if (!client) return remembered('offline');
  try {
    // A HEAD saves the manifest's download only when it may be cached: when this tag's
    // last resolution is. Otherwise it would cost a round trip before the GET.
    const last = await c.cache.tags.get(key).catch(() => null);
    const worthHead = last !== null && (await c.cache.has(last.digest));
    let found: { digest: string; mediaType?: string; fetched?: { json: ManifestJson; mediaType: string } } | null =
      worthHead ? await client.resolveTag(ref.repository, ref.tag!, c.signal) : null;
    if (!found || !(await c.cache.has(found.digest))) {
      // No usable HEAD answer, or a manifest we do not have: GET it (by tag, for the registry's error messages).
      const got = await client.manifest(ref.repository, ref.tag!, c.signal);
      await c.cache.putBytes(got.digest, got.bytes);
      found = { digest: got.digest, mediaType: got.mediaType, fetched: { json: got.json, mediaType: got.mediaType } };
    }
    await c.cache.tags.set({ reference: key, digest: found.digest, mediaType: found.mediaType ?? '', resolvedAt: new Date().toISOString() })
      .catch(() => undefined);
    return found;
  } catch (e) {
    if (!isUnreachable(e) || c.signal.aborted) throw e;
    return remembered(`registry ${ref.registry} cannot be reached (${(e as Error).message})`, e);
  }
}

function linkSignal(outer: AbortSignal | undefined): AbortController {
  const inner = new AbortController();
  if (outer?.aborted) inner.abort();
  else outer?.addEventListener('abort', () => inner.abort(), { once: true });
  return inner;
}

/** Opens `ref` (`python:3.12`, `docker://ghcr.io/org/app@sha256:...`) for a build. */
export async function openRegistryImage(input: string, opts: RegistryImageOptions = {}): Promise<RegistryImage> {
  const named = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const ref = parseDockerReference(named);
  const want = opts.platform ?? (opts.arch ? parsePlatform(opts.arch) : hostPlatform());
  const cache = opts.cache ?? new BlobCache(cacheRoot(opts.env));
  const controller = linkSignal(opts.signal);
  const signal = controller.signal;
  const name = familiarReference(ref);
  const source = `docker://${named}`;

  // The client is made (and connects) only when something is not in the cache.
  let client: RegistryClient | null | undefined;
  let credential: Credential | undefined;
  const getClient = (): RegistryClient | null => {
    if (opts.offline) return null;
    client ??= new RegistryClient(ref.registry, {
      ...(credential ? { credential } : {}),
      ...(opts.caCerts ? { caFiles: opts.caCerts } : {}),
      ...(opts.insecure ? { insecure: true } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...opts.http,
    });
    return client;
  };
  if (opts.credentials) credential = opts.credentials;
  else if (!opts.offline) {
    const found = await lookupCredentials(ref.registry, opts.env);
    credential = found.credential;
    for (const n of found.notes) opts.onWarning?.(n);
  }
  const c: Context = { ref, name, cache, client: getClient, opts, signal };

  let downloads: LayerDownloads | undefined;
  const handles: VerifiedBlob[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      controller.abort();
      if (downloads) handles.push(...(await downloads.settled()));
      await Promise.all(handles.map((h) => h.close()));
      client?.close();
    })();
    return closing;
  };

  try {
    const top = await resolveTop(c);
    let current = top.fetched ?? (await manifestByDigest(c, top));
    let manifestDigest = top.digest;
    let indexDigest: string | undefined;
    if (INDEX_TYPES.includes(current.mediaType) || Array.isArray(current.json.manifests)) {
      indexDigest = top.digest;
      const chosen = choosePlatform(current.json.manifests ?? [], want, name);
      manifestDigest = chosen.digest;
      current = await manifestByDigest(c, chosen);
      if (INDEX_TYPES.includes(current.mediaType) || Array.isArray(current.json.manifests))
        throw new SifError('SIF_E_BUILD_SOURCE', `${name}: an index inside an index is not supported`);
    }
    if (!MANIFEST_TYPES.includes(current.mediaType))
      throw new SifError('SIF_E_BUILD_SOURCE', `${name} is not a container image (manifest type ${current.mediaType})`, {
        hint: 'sif builds from OCI and Docker schema 2 image manifests',
      });
    const { config: configDesc, layers } = current.json;
    if (!configDesc || !Array.isArray(layers))
      throw new SifError('SIF_E_BUILD_SOURCE', `${name}: manifest ${manifestDigest} has no config or no layers`);

    const fetchOpts: BlobFetcherOptions = {
      cache, client: getClient, repository: ref.repository, signal,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
    };
    // Validate the layer types before any download starts. The layers then start
    // beside the config (one round trip less before the merge); a wrong platform,
    // found by the caller in the config, closes the image and stops them.
    const blobs = layers.map((d, i) => layerBlob(d, () => open(i), `${name}: layer ${d.digest}`, false));
    const dl = new LayerDownloads(layers, Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY), fetchOpts);
    downloads = dl;
    const open = async (i: number) => {
      if (signal.aborted) throw interrupted(`${name}: layer ${layers[i]!.digest}`);
      return (await dl.get(i)).stream();
    };

    const configBlob = await fetchBlob(configDesc, fetchOpts);
    let config: OciConfigFile;
    try {
      config = JSON.parse((await readAll(configBlob)).toString('utf8')) as OciConfigFile;
    } catch (cause) {
      throw new SifError('SIF_E_BUILD_SOURCE', `${name}: config ${configDesc.digest} is not valid JSON`, { cause });
    } finally {
      await configBlob.close();
    }
    return { source, manifestDigest, config, layers: blobs, close, reference: ref, platform: want, ...(indexDigest ? { indexDigest } : {}) };
  } catch (e) {
    const aborted = signal.aborted;
    await close();
    throw aborted && !(e instanceof SifError && e.code === 'SIF_E_BUILD_INTERRUPTED') ? interrupted(`pulling ${name}`) : e;
  }
}
