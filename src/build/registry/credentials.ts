/**
 * Registry credentials: first sif's own store ($XDG_CONFIG_HOME/sif/registries.json,
 * written by `sif registry login`, mode 0600), then Docker's config.json `auths`
 * ($DOCKER_CONFIG/config.json or ~/.docker/config.json). Keys are registry hosts,
 * Docker Hub under any of its names. Docker credential helpers are not run; when
 * configured, the lookup says so, so a user does not wonder why a login is unused.
 */
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { SifError } from '../../errors.js';
import { tempName } from '../cache/temp-files.js';
import { normaliseRegistryName } from './docker-reference.js';

export type Credential =
  | { username: string; password: string }
  /** An OAuth2 refresh token (`docker login` to registries that issue one). */
  | { username?: string; identityToken: string };

export interface CredentialLookup {
  credential?: Credential;
  /** The file the credential came from. */
  source?: string;
  /** Things the user should know: ignored helpers, loose file modes. */
  notes: string[];
}

export interface StoredLogin {
  registry: string;
  username?: string;
  source: string;
}

interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfigFile {
  auths?: Record<string, DockerAuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

interface SifStore {
  auths: Record<string, { username: string; password: string }>;
}

function home(env: NodeJS.ProcessEnv): string {
  return env['HOME'] || homedir();
}

export function sifCredentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CONFIG_HOME'];
  return join(xdg && isAbsolute(xdg) ? xdg : join(home(env), '.config'), 'sif', 'registries.json');
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['DOCKER_CONFIG'] || join(home(env), '.docker'), 'config.json');
}

async function readJson<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SifError('SIF_E_REGISTRY_AUTH', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new SifError('SIF_E_REGISTRY_AUTH', `${path} is not valid JSON`, { cause, hint: 'fix or remove the file' });
  }
}

/** The registry a config key names, or null for keys that name none. */
function keyRegistry(key: string): string | null {
  try {
    return normaliseRegistryName(key);
  } catch {
    return null;
  }
}

function fromDockerEntry(e: DockerAuthEntry, path: string, key: string): Credential | undefined {
  if (e.identitytoken) {
    const user = e.username ?? (e.auth ? Buffer.from(e.auth, 'base64').toString('utf8').split(':')[0] : undefined);
    return { identityToken: e.identitytoken, ...(user ? { username: user } : {}) };
  }
  if (e.username !== undefined && e.password !== undefined) return { username: e.username, password: e.password };
  if (e.auth) {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) throw new SifError('SIF_E_REGISTRY_AUTH', `${path}: the auth entry for ${key} is not base64 of USER:PASSWORD`);
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  return undefined;
}

/** Finds credentials for `registry` (a reference's registry, e.g. docker.io or host:port). */
export async function lookupCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<CredentialLookup> {
  const want = keyRegistry(registry) ?? registry;
  const notes: string[] = [];
  const sifPath = sifCredentialsPath(env);
  const store = await readJson<SifStore>(sifPath);
  const own = store?.auths?.[want];
  if (own) {
    const st = await stat(sifPath).catch(() => null);
    if (st && st.mode & 0o077) notes.push(`${sifPath} is readable by others; run chmod 600 on it`);
    return { credential: { username: own.username, password: own.password }, source: sifPath, notes };
  }
  const dockerPath = dockerConfigPath(env);
  const docker = await readJson<DockerConfigFile>(dockerPath);
  if (!docker) return { notes };
  for (const [key, entry] of Object.entries(docker.auths ?? {})) {
    if (keyRegistry(key) !== want) continue;
    const credential = fromDockerEntry(entry, dockerPath, key);
    if (credential) return { credential, source: dockerPath, notes };
  }
  const helper = Object.entries(docker.credHelpers ?? {}).find(([k]) => keyRegistry(k) === want)?.[1];
  if (helper) notes.push(`${dockerPath} names credential helper docker-credential-${helper} for ${want}; sif does not run credential helpers (use \`sif registry login ${want}\`)`);
  else if (docker.credsStore) notes.push(`${dockerPath} keeps passwords in credential store "${docker.credsStore}", which sif does not read (use \`sif registry login ${want}\`)`);
  return { notes };
}

/** Saves a login for `registry` in sif's store (mode 0600, replaced atomically). Returns the file. */
export async function saveCredentials(registry: string, cred: { username: string; password: string }, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = sifCredentialsPath(env);
  const store = (await readJson<SifStore>(path)) ?? { auths: {} };
  store.auths ??= {};
  store.auths[normaliseRegistryName(registry)] = { username: cred.username, password: cred.password };
  await writeStore(path, store);
  return path;
}

/** Forgets the login for `registry`; false when there was none. */
export async function removeCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const path = sifCredentialsPath(env);
  const store = await readJson<SifStore>(path);
  const key = normaliseRegistryName(registry);
  if (!store?.auths?.[key]) return false;
  delete store.auths[key];
  await writeStore(path, store);
  return true;
}

/** Every registry with a login, from both files (passwords left out). */
export async function listCredentials(env: NodeJS.ProcessEnv = process.env): Promise<StoredLogin[]> {
  const out: StoredLogin[] = [];
  const sifPath = sifCredentialsPath(env);
  for (const [registry, e] of Object.entries((await readJson<SifStore>(sifPath))?.auths ?? {}))
    out.push({ registry, username: e.username, source: sifPath });
  const dockerPath = dockerConfigPath(env);
  for (const [key, e] of Object.entries((await readJson<DockerConfigFile>(dockerPath))?.auths ?? {})) {
    const registry = keyRegistry(key);
    if (!registry || out.some((o) => o.registry === registry)) continue;
    let cred: Credential | undefined;
    try {
      cred = fromDockerEntry(e, dockerPath, key);
    } catch {
      continue;
    }
    if (cred) out.push({ registry, ...(cred.username ? { username: cred.username } : {}), source: dockerPath });
  }
  return out;
}

async function writeStore(path: string, store: SifStore): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, tempName('registries'));
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(tmp, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new SifError('SIF_E_REGISTRY_AUTH', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}
