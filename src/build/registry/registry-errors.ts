/**
 * A registry's error answers (status + the spec's `{"errors":[{code,message}]}`
 * body) as SifErrors that name the registry, the repository and the tag or digest.
 */
import { SifError } from '../../errors.js';
import type { HttpResponse } from './http.js';

export interface ErrorContext {
  registry: string;
  repository: string;
  /** What was asked for: `tag 3.12`, `manifest sha256:...`, `blob sha256:...`. */
  what: string;
  credentialsSent: boolean;
  username?: string;
}

interface ErrorBody {
  errors?: { code?: string; message?: string }[];
}

async function errorCodes(res: HttpResponse): Promise<{ codes: string[]; message?: string }> {
  if (res.body.readableEnded || res.headers['content-type']?.includes('json') !== true) {
    res.discard();
    return { codes: [] };
  }
  try {
    const body = JSON.parse(await res.text(65536)) as ErrorBody;
    const errors = Array.isArray(body.errors) ? body.errors : [];
    const message = errors.find((e) => e.message)?.message;
    return { codes: errors.map((e) => String(e.code ?? '')), ...(message ? { message } : {}) };
  } catch {
    return { codes: [] };
  }
}

export async function registryError(res: HttpResponse, ctx: ErrorContext): Promise<SifError> {
  const { codes, message } = await errorCodes(res);
  const repo = `${ctx.repository} on ${ctx.registry}`;
  if (res.status === 404 || codes.some((c) => /^(MANIFEST|NAME|BLOB)_UNKNOWN$/.test(c))) {
    if (codes.includes('NAME_UNKNOWN'))
      return new SifError('SIF_E_REGISTRY_NOT_FOUND', `repository ${repo} not found`, { hint: 'check the repository name (Docker Hub official images live under library/)' });
    return new SifError('SIF_E_REGISTRY_NOT_FOUND', `${ctx.what} not found in repository ${repo}`, {
      hint: ctx.what.startsWith('tag') ? 'check the tag; the registry has no image under it' : undefined,
    });
  }
  if (res.status === 401 || res.status === 403) {
    const who = ctx.credentialsSent ? `for user ${ctx.username ?? '(token)'}` : '(no credentials were sent)';
    return new SifError('SIF_E_REGISTRY_AUTH', `registry ${ctx.registry} denied pull access to ${ctx.repository} ${who}${message ? `: ${message}` : ''}`, {
      hint: ctx.credentialsSent
        ? 'the repository may not exist, or this user may not read it'
        : `the repository may not exist, or it needs a login: \`sif registry login ${ctx.registry}\` or --username`,
    });
  }
  if (res.status === 429)
    return new SifError('SIF_E_REGISTRY_HTTP', `registry ${ctx.registry} is rate limiting requests (HTTP 429)`, {
      hint: ctx.credentialsSent ? 'wait and try again' : 'wait and try again; logging in often raises the limit',
    });
  return new SifError('SIF_E_REGISTRY_HTTP', `registry ${ctx.registry} answered HTTP ${res.status} for ${ctx.what} of ${ctx.repository}${message ? `: ${message}` : ''}`);
}
