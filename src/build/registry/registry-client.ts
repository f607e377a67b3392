/**
 * The pull half of the OCI distribution API for one registry: resolve a tag,
 * fetch manifests (OCI and Docker schema 2, checked against their digest) and
 * blobs, answering auth challenges on the way. Schema 1 manifests are refused.
 */
import { SifError } from '../../errors.js';
import { MEDIA, type ManifestJson } from '../image-source.js';
import { digestOf, parseDigest } from '../sources/verified-stream.js';
import type { Credential } from './credentials.js';
import { registryApiHost } from './docker-reference.js';
import { HttpClient, type HttpClientOptions, type HttpResponse } from './http.js';
import { registryError } from './registry-errors.js';
import { RegistryAuth, pullScope } from './token-auth.js';

export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(', ');
const SCHEMA1_TYPES = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];
/** The distribution spec lets registries refuse manifests over 4 MiB; so do we. */
const MANIFEST_MAX = 4 << 20;


export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  json: ManifestJson;
}

export interface RegistryClientOptions extends HttpClientOptions {
  credential?: Credential;
}

function schema1(what: string): SifError {
  return new SifError('SIF_E_BUILD_SOURCE', `${what} is a Docker schema 1 manifest, which sif does not support`, {
    hint: 'schema 1 was retired in 2019; push the image again with a current Docker, podman or skopeo',
  });
}

/** Parses manifest bytes; the media type from the body, else the Content-Type, else the shape. */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string): { json: ManifestJson; mediaType: string } {
  let json: ManifestJson;
  try {
    json = JSON.parse(bytes.toString('utf8')) as ManifestJson;
  } catch (cause) {
    throw new SifError('SIF_E_BUILD_SOURCE', `${what} is not valid JSON`, { cause });
  }
  if (typeof json !== 'object' || json === null) throw new SifError('SIF_E_BUILD_SOURCE', `${what} is not a manifest`);
  const type = contentType?.split(';')[0]?.trim();
  if (json.schemaVersion === 1 || Array.isArray(json.fsLayers) || (type && SCHEMA1_TYPES.includes(type))) throw schema1(what);
  const mediaType = json.mediaType ?? (type && type !== 'application/json' ? type : undefined) ??
    (Array.isArray(json.manifests) ? MEDIA.ociIndex : MEDIA.ociManifest);
  return { json, mediaType };
}

export class RegistryClient {
  readonly http: HttpClient;
  readonly auth: RegistryAuth;
  private base?: Promise<string>;

  constructor(readonly registry: string, private readonly opts: RegistryClientOptions = {}) {
    this.http = new HttpClient(opts);
    this.auth = new RegistryAuth(this.http, registry, opts.credential);
  }

  close(): void {
    this.http.close();
  }

  /**
   * `https://host`, or with --insecure `http://host` when the registry does not
   * speak TLS (as Docker does for its insecure registries: try TLS first).
   */
  private baseUrl(signal?: AbortSignal): Promise<string> {
    const host = registryApiHost(this.registry);
    this.base ??= (async () => {
      if (!this.opts.insecure) return `https://${host}`;
      try {
        const res = await this.http.request({ url: `https://${host}/v2/`, ...(signal ? { signal } : {}) });
        res.discard();
        return `https://${host}`;
      } catch (e) {
        if (e instanceof SifError && e.code === 'SIF_E_REGISTRY_TLS') return `http://${host}`;
        throw e;
      }
    })();
    this.base.catch(() => {
      this.base = undefined;
    });
    return this.base;
  }

  /** A GET or HEAD in `repository`'s pull scope, answering one auth challenge. */
  private async send(repository: string, path: string, accept: string, method: 'GET' | 'HEAD', signal?: AbortSignal): Promise<HttpResponse> {
    const url = `${await this.baseUrl(signal)}${path}`;
    const scope = pullScope(repository);
    for (let round = 0; ; round++) {
      const auth = this.auth.header(scope);
      const headers: Record<string, string> = { accept, ...(auth ? { authorization: auth } : {}) };
      const res = await this.http.request({ method, url, headers, ...(signal ? { signal } : {}) });
      if (res.status !== 401) return res;
      if (round > 0) {
        // Basic credentials sent and refused: say so rather than "access denied".
        if (auth?.startsWith('Basic ')) {
          res.discard();
          throw this.auth.refused();
        }
        return res;
      }
      res.discard();
      await this.auth.answer(res.headers['www-authenticate'], scope, signal);
    }
  }

  private ctx(repository: string, what: string) {
    const username = this.opts.credential?.username;
    return { registry: this.registry, repository, what, credentialsSent: this.auth.credentialsSent, ...(username ? { username } : {}) };
  }

  /** The digest a tag points at, by HEAD (Docker Hub does not count HEADs against pull limits). */
  async resolveTag(repository: string, tag: string, signal?: AbortSignal): Promise<{ digest: string; mediaType?: string } | null> {
    const res = await this.send(repository, `/v2/${repository}/manifests/${tag}`, MANIFEST_ACCEPT, 'HEAD', signal);
    res.discard();
    const digest = res.headers['docker-content-digest'];
    if (res.status !== 200 || typeof digest !== 'string') return null;
    try {
      parseDigest(digest, 'Docker-Content-Digest');
    } catch {
      return null;
    }
    const type = res.headers['content-type']?.split(';')[0]?.trim();
    return { digest, ...(type ? { mediaType: type } : {}) };
  }

  /**
   * A manifest or index by tag or digest, checked: by digest against that digest;
   * by tag against the registry's Docker-Content-Digest when it sends one.
   */
  async manifest(repository: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const byDigest = reference.includes(':');
    const what = byDigest ? `manifest ${reference}` : `tag ${reference}`;
    const res = await this.send(repository, `/v2/${repository}/manifests/${reference}`, MANIFEST_ACCEPT, 'GET', signal);
    if (res.status !== 200) {
      const err = await registryError(res, this.ctx(repository, what));
      throw byDigest || err.code !== 'SIF_E_REGISTRY_NOT_FOUND' ? err : await this.explainMissingTag(repository, reference, err, signal);
    }
    const bytes = await res.bytes(MANIFEST_MAX);
    const header = res.headers['docker-content-digest'];
    const expected = byDigest ? reference : typeof header === 'string' && header ? header : undefined;
    let digest: string;
    if (expected) {
      const { algorithm } = parseDigest(expected, `${this.registry}/${repository}: ${what}`);
      digest = digestOf(bytes, algorithm);
      if (digest !== expected)
        throw new SifError('SIF_E_BUILD_DIGEST', `${what} of ${repository} from ${this.registry} does not match its digest: got ${digest}, expected ${expected}`, {
          hint: 'the registry or something between it and you altered the manifest',
        });
    } else digest = digestOf(bytes);
    const { json, mediaType } = parseManifest(bytes, res.headers['content-type'], `${what} of ${this.registry}/${repository}`);
    return { digest, mediaType, bytes, json };
  }

  /**
   * Registries answer MANIFEST_UNKNOWN for a tag of a repository that does not
   * exist too; the tag list tells the two apart and gives the user the tags there.
   */
  private async explainMissingTag(repository: string, tag: string, err: SifError, signal?: AbortSignal): Promise<SifError> {
    try {
      const res = await this.send(repository, `/v2/${repository}/tags/list?n=1000`, 'application/json', 'GET', signal);
      if (res.status !== 200) {
        const listErr = await registryError(res, this.ctx(repository, 'tag list'));
        return listErr.code === 'SIF_E_REGISTRY_NOT_FOUND' && listErr.message.startsWith('repository') ? listErr : err;
      }
      const tags = (JSON.parse(await res.text(1 << 20)) as { tags?: string[] | null }).tags ?? [];
      const shown = tags.slice(0, 15).join(', ') + (tags.length > 15 ? `, ... (${tags.length} tags)` : '');
      return new SifError('SIF_E_REGISTRY_NOT_FOUND', `tag ${tag} not found in repository ${repository} on ${this.registry}`, {
        hint: tags.length ? `tags there: ${shown}` : 'the repository has no tags',
      });
    } catch {
      return err;
    }
  }

  /** A blob's response (status 200), its body still to be read. */
  async blob(repository: string, digest: string, signal?: AbortSignal): Promise<HttpResponse> {
    const res = await this.send(repository, `/v2/${repository}/blobs/${digest}`, '*/*', 'GET', signal);
    if (res.status === 200) return res;
    throw await registryError(res, this.ctx(repository, `blob ${digest}`));
  }

  /**
   * Checks the client's credentials against the registry (for `sif registry login`).
   * Returns false when the registry asks for no authentication at all.
   */
  async checkLogin(signal?: AbortSignal): Promise<boolean> {
    const url = `${await this.baseUrl(signal)}/v2/`;
    const first = await this.http.request({ url, ...(signal ? { signal } : {}) });
    first.discard();
    if (first.status === 200) return false;
    if (first.status !== 401) throw new SifError('SIF_E_REGISTRY_HTTP', `registry ${this.registry} answered HTTP ${first.status} at /v2/; is it an OCI registry?`);
    await this.auth.answer(first.headers['www-authenticate'], '', signal);
    const auth = this.auth.header('');
    const again = await this.http.request({ url, headers: auth ? { authorization: auth } : {}, ...(signal ? { signal } : {}) });
    again.discard();
    if (again.status === 401 || again.status === 403) throw this.auth.refused();
    if (again.status !== 200) throw new SifError('SIF_E_REGISTRY_HTTP', `registry ${this.registry} answered HTTP ${again.status} at /v2/`);
    return true;
  }
}
