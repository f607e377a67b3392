/**
 * Registry authentication driven by the 401 challenge (distribution token spec):
 * `Bearer realm,service,scope` → a token from the realm (anonymous, with Basic
 * credentials, or an OAuth2 refresh-token grant for a Docker identity token),
 * cached per scope until shortly before it expires; `Basic` → the credentials on
 * every request.
 */
import { SifError } from '../../errors.js';
import type { Credential } from './credentials.js';
import type { HttpClient } from './http.js';
import { parseChallenges, type Challenge } from './www-authenticate.js';

interface CachedToken {
  header: string;
  expiresAt: number;
}

interface TokenResponse {
  token?: string;
  access_token?: string;
  expires_in?: number;
  issued_at?: string;
}

/** The spec's default lifetime when the token server gives none (seconds). */
const DEFAULT_TOKEN_SECONDS = 60;
/** Renew this long before a token expires, so it does not expire mid-request (ms). */
const RENEW_EARLY_MS = 10_000;

export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export class RegistryAuth {
  private mode: 'none' | 'basic' | 'bearer' = 'none';
  private bearer?: Challenge;
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    private readonly http: HttpClient,
    /** The registry as users name it, for messages. */
    readonly registry: string,
    readonly credential?: Credential,
  ) {}

  /** Whether requests carry the user's credentials (for error messages). */
  get credentialsSent(): boolean {
    return this.credential !== undefined && this.mode !== 'none';
  }

  private who(): string {
    const c = this.credential;
    return c ? `the credentials${c.username ? ` of user ${c.username}` : ''}` : 'anonymous access';
  }

  /** The Authorization header for a request in `scope`, when one is known. */
  header(scope: string): string | undefined {
    if (this.mode === 'basic' && this.credential && 'password' in this.credential)
      return `Basic ${Buffer.from(`${this.credential.username}:${this.credential.password}`).toString('base64')}`;
    if (this.mode === 'bearer') {
      const t = this.tokens.get(scope);
      if (t && t.expiresAt > Date.now()) return t.header;
    }
    return undefined;
  }

  /**
   * Learns from a 401's WWW-Authenticate and prepares credentials for `scope`.
   * Throws SIF_E_REGISTRY_AUTH when the registry or its token server refuses.
   */
  async answer(wwwAuthenticate: string | string[] | undefined, scope: string, signal?: AbortSignal): Promise<void> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params['realm']);
    if (bearer) {
      this.mode = 'bearer';
      this.bearer = bearer;
      this.tokens.delete(scope);
      await this.fetchToken(scope, signal);
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (!this.credential || !('password' in this.credential))
        throw new SifError('SIF_E_REGISTRY_AUTH', `registry ${this.registry} requires a login (no credentials were sent)`, {
          hint: `run \`sif registry login ${this.registry}\`, or give --username and --password-stdin`,
        });
      if (this.mode === 'basic') throw this.refused();
      this.mode = 'basic';
      return;
    }
    throw new SifError('SIF_E_REGISTRY_AUTH', `registry ${this.registry} asks for an authentication sif does not support: ${challenges.map((c) => c.scheme).join(', ') || 'no WWW-Authenticate header'}`);
  }

  refused(): SifError {
    return new SifError('SIF_E_REGISTRY_AUTH', `registry ${this.registry} refused ${this.who()}`, {
      hint: this.credential ? `check the user name and password (\`sif registry login ${this.registry}\`)` : `log in with \`sif registry login ${this.registry}\``,
    });
  }

  private async fetchToken(scope: string, signal?: AbortSignal): Promise<void> {
    const ch = this.bearer!;
    const realm = new URL(ch.params['realm']!);
    const service = ch.params['service'];
    const cred = this.credential;
    if (realm.protocol !== 'https:' && cred && !this.http.insecure)
      throw new SifError('SIF_E_REGISTRY_AUTH', `registry ${this.registry} asks for credentials over plain HTTP (${realm.origin}); refused`, {
        hint: '--insecure allows it, on trusted networks only',
      });
    let res;
    if (cred && 'identityToken' in cred) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'sif' });
      if (service) form.set('service', service);
      if (scope) form.set('scope', scope);
      res = await this.http.request({
        method: 'POST', url: realm, body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, ...(signal ? { signal } : {}),
      });
    } else {
      if (service) realm.searchParams.set('service', service);
      if (scope) realm.searchParams.append('scope', scope);
      const headers: Record<string, string> = {};
      if (cred) {
        realm.searchParams.set('account', cred.username ?? '');
        headers['authorization'] = `Basic ${Buffer.from(`${cred.username}:${(cred as { password: string }).password}`).toString('base64')}`;
      }
      res = await this.http.request({ url: realm, headers, ...(signal ? { signal } : {}) });
    }
    if (res.status === 401 || res.status === 403) {
      res.discard();
      throw this.refused();
    }
    if (res.status !== 200) {
      const text = await res.text(65536).catch(() => '');
      throw new SifError('SIF_E_REGISTRY_HTTP', `token server ${realm.host} for ${this.registry} answered HTTP ${res.status}${text ? `: ${text.slice(0, 200).trim()}` : ''}`);
    }
    let body: TokenResponse;
    try {
      body = JSON.parse(await res.text(1 << 20)) as TokenResponse;
    } catch (cause) {
      throw new SifError('SIF_E_REGISTRY_HTTP', `token server ${realm.host} sent a reply that is not JSON`, { cause });
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new SifError('SIF_E_REGISTRY_HTTP', `token server ${realm.host} sent no token`);
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isNaN(issued) || issued > Date.now() ? Date.now() : issued;
    const lifetime = (body.expires_in && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS) * 1000;
    this.tokens.set(scope, { header: `Bearer ${token}`, expiresAt: start + Math.max(lifetime - RENEW_EARLY_MS, lifetime / 2) });
  }
}
