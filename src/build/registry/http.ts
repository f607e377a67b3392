/**
 * HTTP for registries: node:https/http with keep-alive agents, CAs from the system
 * bundle plus SSL_CERT_FILE and --ca-cert, idle timeouts, redirects (Authorization
 * is dropped when the host changes: blob downloads are often redirected to object
 * storage that must not see registry credentials), and retries with exponential
 * backoff and jitter on 5xx, 429 (honouring Retry-After) and dropped connections.
 * Node's low-level errors become SifErrors here (TLS, NETWORK, INTERRUPTED).
 */
import { readFileSync, existsSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { createSecureContext, rootCertificates } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { SifError } from '../../errors.js';
import { chunksOf } from '../chunks-of.js';

export interface HttpClientOptions {
  /** Extra CA bundles (PEM files) to trust, as --ca-cert. */
  caFiles?: string[];
  /** Skip TLS verification (and let the caller use plain HTTP). */
  insecure?: boolean;
  /** Read for SSL_CERT_FILE. */
  env?: NodeJS.ProcessEnv;
  /** Idle time on a connection before it counts as dropped (ms). */
  timeoutMs?: number;
  /** Attempts per request, the first included. */
  tries?: number;
  /** First backoff delay (ms); doubles per retry, with full jitter. */
  retryBaseMs?: number;
  /** Longest wait between tries, Retry-After included (ms). */
  retryMaxMs?: number;
  maxSockets?: number;
  userAgent?: string;
  /** Called before each retry, for logs. */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; reason: string }) => void;
}

export interface HttpRequest {
  method?: 'GET' | 'HEAD' | 'POST';
  url: string | URL;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** After redirects. */
  url: URL;
  /** The body stream: read it or call discard(). */
  body: IncomingMessage;
  /** The body's chunks; a dropped connection throws ConnectionDropped. */
  chunks(): AsyncIterable<Buffer>;
  /** The body as text, refusing more than `limit` bytes. */
  text(limit?: number): Promise<string>;
  bytes(limit?: number): Promise<Buffer>;
  discard(): void;
}

/** System CA bundles of common distributions; the first one present is used. */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/ca-bundle.pem', '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem'];

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA',
]);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const DROPPED_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
const TLS_HINT = 'give the registry\'s CA with --ca-cert FILE or SSL_CERT_FILE=FILE; --insecure skips the check (only for registries you trust)';

/** A dropped connection or timeout: worth another try. */
export class ConnectionDropped extends SifError {
  constructor(readonly host: string, readonly reason: string, original: unknown) {
    super('SIF_E_REGISTRY_NETWORK', `connection to ${host} dropped (${reason})`, {
      cause: original, hint: 'the network or the registry is unstable; try again later',
    });
  }
}

/** Bytes of a body read ahead of its reader (the socket is paused beyond). */
const BODY_READ_AHEAD = 1 << 20;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/**
 * The certificates of a PEM bundle that are not in `have` (compared by their base64
 * body). Node's roots and a distribution's bundle are mostly the same Mozilla set, and
 * parsing each twice cost about a third of the TLS set-up (~30 ms CPU of ~125, measured).
 */
export function certificatesNotIn(bundle: string, have: readonly string[]): string[] {
  const body = (pem: string) => pem.replace(/-----[A-Z ]+-----|\s/g, '');
  const known = new Set(have.map(body));
  return (bundle.match(PEM_CERTIFICATE) ?? []).filter((c) => !known.has(body(c)));
}

function loadCa(opts: HttpClientOptions): string[] {
  const ca = [...rootCertificates];
  const system = SYSTEM_BUNDLES.find((p) => existsSync(p));
  if (system) ca.push(...certificatesNotIn(readFileSync(system, 'utf8'), rootCertificates));
  const env = opts.env ?? process.env;
  const files = [...(env['SSL_CERT_FILE'] ? [env['SSL_CERT_FILE']] : []), ...(opts.caFiles ?? [])];
  for (const f of files) {
    try {
      ca.push(readFileSync(f, 'utf8'));
    } catch (e) {
      throw new SifError('SIF_E_REGISTRY_TLS', `cannot read CA certificates from ${f}: ${(e as Error).message}`, {
        cause: e, hint: 'check the --ca-cert / SSL_CERT_FILE path',
      });
    }
  }
  return ca;
}

export function interrupted(what: string): SifError {
  return new SifError('SIF_E_BUILD_INTERRUPTED', `${what}: interrupted`);
}

/** Maps a low-level request error to a SifError, or to Dropped when a retry may help. */
export function classify(e: unknown, url: URL, signal?: AbortSignal): SifError {
  if (e instanceof SifError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? '';
  const where = url.host;
  if (signal?.aborted || err.name === 'AbortError' || code === 'ABORT_ERR') return interrupted(`request to ${where}`);
  if (TLS_VERIFY_CODES.has(code))
    return new SifError('SIF_E_REGISTRY_TLS', `TLS certificate of ${where} not trusted: ${err.message}`, { cause: e, hint: TLS_HINT });
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_') || /wrong version number|packet length too long/i.test(err.message))
    return new SifError('SIF_E_REGISTRY_TLS', `TLS handshake with ${where} failed: ${err.message}`, {
      cause: e, hint: 'if the registry speaks plain HTTP, use --insecure (only on trusted networks)',
    });
  if (UNREACHABLE_CODES.has(code))
    return new SifError('SIF_E_REGISTRY_NETWORK', `cannot reach registry ${where}: ${code === 'ENOTFOUND' ? 'unknown host' : err.message}`, {
      cause: e, hint: code === 'ENOTFOUND' ? 'check the registry name in the reference and your DNS' : 'check that the registry is up and that this machine may connect to it (proxy, firewall)',
    });
  if (DROPPED_CODES.has(code) || /socket hang up|aborted/i.test(err.message)) return new ConnectionDropped(url.host, code || err.message, e);
  return new SifError('SIF_E_REGISTRY_NETWORK', `request to ${where} failed: ${err.message}`, { cause: e });
}

function retryAfterMs(h: IncomingHttpHeaders): number | undefined {
  const v = h['retry-after'];
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

async function collect(body: IncomingMessage, limit: number, url: URL): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of body) {
      n += (c as Buffer).length;
      if (n > limit) {
        body.destroy();
        throw new SifError('SIF_E_REGISTRY_HTTP', `${url.host} sent more than ${limit} bytes for ${url.pathname}`);
      }
      chunks.push(c as Buffer);
    }
  } catch (e) {
    throw classify(e, url);
  }
  if (!body.complete) throw new ConnectionDropped(url.host, 'body ended early', undefined);
  return Buffer.concat(chunks);
}

export class HttpClient {
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;
  private readonly opts: Required<Pick<HttpClientOptions, 'timeoutMs' | 'tries' | 'retryBaseMs' | 'retryMaxMs' | 'userAgent'>> & HttpClientOptions;

  constructor(opts: HttpClientOptions = {}) {
    this.opts = { timeoutMs: 30_000, tries: 5, retryBaseMs: 500, retryMaxMs: 30_000, userAgent: 'sif', ...opts };
    const maxSockets = opts.maxSockets ?? 8;
    // One secure context for every connection: given `ca`, each TLS connection parses
    // the whole CA list again (~140 certificates), and the agent's pool key holds it too.
    const secureContext = createSecureContext({ ca: loadCa(opts) });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, secureContext, rejectUnauthorized: !opts.insecure });
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
  }

  get insecure(): boolean {
    return this.opts.insecure === true;
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }

  /**
   * One request, retried on 5xx, 429, 408 and dropped connections (the last such
   * response is returned as is once the tries are spent). Other statuses return.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.url);
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let wait: number | undefined;
      try {
        const res = await this.follow(req, url);
        if (!RETRY_STATUS.has(res.status) || attempt >= this.opts.tries) return res;
        reason = `HTTP ${res.status}`;
        wait = retryAfterMs(res.headers);
        res.discard();
      } catch (e) {
        if (!(e instanceof ConnectionDropped)) throw e;
        if (attempt >= this.opts.tries) throw e;
        reason = e.reason;
      }
      const backoff = Math.random() * this.opts.retryBaseMs * 2 ** (attempt - 1);
      const delayMs = Math.min(wait ?? backoff, this.opts.retryMaxMs);
      this.opts.onRetry?.({ url: url.href, attempt, delayMs, reason });
      try {
        await sleep(delayMs, undefined, req.signal ? { signal: req.signal } : {});
      } catch {
        throw interrupted(`request to ${url.host}`);
      }
    }
  }

  /** Sends and follows redirects, dropping Authorization when the host changes. */
  private async follow(req: HttpRequest, start: URL): Promise<HttpResponse> {
    let url = start;
    let headers: Record<string, string> = { 'user-agent': this.opts.userAgent, ...req.headers };
    let method = req.method ?? 'GET';
    let body = req.body;
    for (let hop = 0; ; hop++) {
      const res = await this.once(method, url, headers, body, req.signal);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.status) || !location) return res;
      res.discard();
      if (hop >= MAX_REDIRECTS) throw new SifError('SIF_E_REGISTRY_HTTP', `too many redirects from ${start.host}${start.pathname}`);
      const next = new URL(location, url);
      if (next.protocol === 'http:' && url.protocol === 'https:' && !this.opts.insecure)
        throw new SifError('SIF_E_REGISTRY_HTTP', `${url.host} redirected to plain HTTP (${next.host}); refused`, { hint: '--insecure allows it' });
      if (next.host !== url.host) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      if (res.status === 303) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  private once(method: string, url: URL, headers: Record<string, string>, body: string | undefined, signal?: AbortSignal): Promise<HttpResponse> {
    if (signal?.aborted) return Promise.reject(interrupted(`request to ${url.host}`));
    const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (!mod) return Promise.reject(new SifError('SIF_E_REGISTRY_HTTP', `unsupported URL scheme in ${url.href}`));
    const agent = url.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
    const all = body !== undefined ? { ...headers, 'content-length': String(Buffer.byteLength(body)) } : headers;
    return new Promise<HttpResponse>((resolve, reject) => {
      const r = mod.request(url, { method, headers: all, agent, ...(signal ? { signal } : {}) }, (res) => {
        // Errors surface where the body is read; this only keeps an unread body from crashing Node.
        res.on('error', () => undefined);
        resolve(wrapResponse(res, url, signal));
      });
      r.setTimeout(this.opts.timeoutMs, () => {
        const e = Object.assign(new Error(`no data from ${url.host} for ${this.opts.timeoutMs} ms`), { code: 'ETIMEDOUT' });
        r.destroy(e);
      });
      r.on('error', (e) => reject(classify(e, url, signal)));
      r.end(body);
    });
  }
}

function wrapResponse(res: IncomingMessage, url: URL, signal?: AbortSignal): HttpResponse {
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    url,
    body: res,
    chunks: async function* () {
      try {
        // One by one: Readable's iterator would join what is buffered (a copy of each byte).
        for await (const c of chunksOf(res, BODY_READ_AHEAD)) yield c;
      } catch (e) {
        throw classify(e, url, signal);
      }
      // A body cut short without an error event still must not pass as complete.
      if (!res.complete) throw new ConnectionDropped(url.host, 'body ended early', undefined);
    },
    bytes: (limit = 4 << 20) => collect(res, limit, url).catch((e) => {
      throw signal?.aborted ? interrupted(`request to ${url.host}`) : e;
    }),
    text: async (limit = 4 << 20) => (await collect(res, limit, url)).toString('utf8'),
    discard: () => {
      // Drain small bodies so the connection can be reused; drop big ones.
      const len = Number(res.headers['content-length'] ?? NaN);
      if (len <= 65536) res.resume();
      else res.destroy();
    },
  };
}

/** Whether an error from this module means the registry could not be reached at all. */
export function isUnreachable(e: unknown): boolean {
  return e instanceof SifError && e.code === 'SIF_E_REGISTRY_NETWORK';
}
