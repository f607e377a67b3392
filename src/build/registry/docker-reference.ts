/**
 * Image references as Docker reads them (distribution/reference grammar and its
 * normalisation): `python` is `docker.io/library/python:latest`, the first path
 * component is a registry only when it has a `.` or a `:`, is `localhost`, or has
 * upper case letters. Pure: no I/O.
 */
import { SifError } from '../../errors.js';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API actually answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';
/** Names that mean Docker Hub in references and in ~/.docker/config.json. */
export const DOCKER_HUB_ALIASES: readonly string[] = [DOCKER_HUB, 'index.docker.io', DOCKER_HUB_API, 'registry.hub.docker.com'];

export interface DockerReference {
  /** Registry as named in references: `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry: `library/python`. */
  repository: string;
  /** Absent only when a digest is given without a tag. */
  tag?: string;
  digest?: string;
}

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const REMOTE_NAME = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const HEX_ID = /^[a-f0-9]{64}$/;
/** Digest algorithms sif can verify, with the length of their lower-case hex. */
const DIGEST_HEX: Record<string, number> = { sha256: 64, sha512: 128 };
const NAME_MAX = 255;

function bad(input: string, why: string, hint?: string): SifError {
  return new SifError('SIF_E_BUILD_REFERENCE', `invalid image reference ${JSON.stringify(input)}: ${why}`, {
    hint: hint ?? 'write [REGISTRY/]REPOSITORY[:TAG][@DIGEST], e.g. python:3.12-slim or ghcr.io/org/app@sha256:...',
  });
}

/** Whether the text before the first `/` names a registry rather than a namespace. */
function isDomain(first: string): boolean {
  return first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first;
}

/** Throws unless `digest` is `algorithm:hex` with an algorithm sif can check. */
export function validateDigest(digest: string, input = digest): void {
  if (!DIGEST.test(digest)) throw bad(input, `${JSON.stringify(digest)} is not a digest (ALGORITHM:HEX)`);
  const [alg, hex] = digest.split(':') as [string, string];
  const len = DIGEST_HEX[alg];
  if (len === undefined) throw bad(input, `unsupported digest algorithm ${alg}`, 'use a sha256 digest');
  if (hex.length !== len || !/^[a-f0-9]+$/.test(hex)) throw bad(input, `a ${alg} digest has ${len} lower-case hex digits`);
}

/** Parses and normalises a reference as `docker pull` does; adds `latest` when neither tag nor digest is given. */
export function parseDockerReference(input: string): DockerReference {
  if (input === '') throw bad(input, 'it is empty');
  if (HEX_ID.test(input)) throw bad(input, 'a 64-digit hex string is an image ID, not a repository name');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    validateDigest(digest, input);
  }
  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let remote = rest;
  if (slash >= 0 && isDomain(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    remote = rest.slice(slash + 1);
  }
  // A tag follows the last ':' after the registry (a ':' inside the path is never valid).
  let tag: string | undefined;
  const colon = remote.lastIndexOf(':');
  if (colon >= 0) {
    tag = remote.slice(colon + 1);
    remote = remote.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, `invalid tag ${JSON.stringify(tag)}`, 'a tag is up to 128 letters, digits, _ . and -, not starting with . or -');
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (!DOMAIN.test(registry)) throw bad(input, `invalid registry ${JSON.stringify(registry)}`);
  if (remote === '') throw bad(input, 'the repository name is missing');
  if (remote.toLowerCase() !== remote) throw bad(input, `repository name ${JSON.stringify(remote)} must be lowercase`);
  if (!REMOTE_NAME.test(remote)) throw bad(input, `invalid repository name ${JSON.stringify(remote)}`,
    'repository path components are lower-case letters and digits, separated by / and joined by . _ __ or dashes');
  if (registry === DOCKER_HUB && !remote.includes('/')) remote = `library/${remote}`;
  if (registry.length + 1 + remote.length > NAME_MAX) throw bad(input, `the name is longer than ${NAME_MAX} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: remote, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `docker.io/library/python:3.12@sha256:...`: the full, normalised form. */
export function formatReference(ref: DockerReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** `python:3.12`: the short form Docker shows. */
export function familiarReference(ref: DockerReference): string {
  let name = `${ref.registry}/${ref.repository}`;
  if (ref.registry === DOCKER_HUB) {
    const path = ref.repository.startsWith('library/') && !ref.repository.slice(8).includes('/') ? ref.repository.slice(8) : ref.repository;
    name = path;
  }
  return `${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The host (and port) serving the registry API: Docker Hub's differs from its name. */
export function registryApiHost(registry: string): string {
  return DOCKER_HUB_ALIASES.includes(registry) ? DOCKER_HUB_API : registry;
}

/**
 * A registry as a user names it for `sif registry login` (`docker.io`,
 * `https://index.docker.io/v1/`, `myreg:5000`) in the form used as a key.
 */
export function normaliseRegistryName(name: string): string {
  let host = name.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  host = host.replace(/\/.*$/, '').toLowerCase();
  if (DOCKER_HUB_ALIASES.includes(host)) return DOCKER_HUB;
  if (!host || !DOMAIN.test(host))
    throw new SifError('SIF_E_USAGE', `invalid registry name ${JSON.stringify(name)}`, { hint: 'give a host name with an optional port, e.g. ghcr.io or localhost:5000' });
  return host;
}
