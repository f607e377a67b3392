#!/usr/bin/env node
// A Docker registry token server for the tests (scripts/test-registry.sh starts it):
// the "token" auth flow of the distribution registry, so the builder's registry client
// is tested against a real Bearer challenge and a JWT the real registry checks.
//
//   GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]
//   Authorization: Basic ...   optional; a wrong user or password gets 401
//
// Grants: anonymous clients may pull repositories under public/; the configured users
// may pull and push everywhere (and get registry:catalog:*). Other requested actions
// are left out of the token, as real token servers do: the registry then answers 401
// insufficient_scope. The JWT is RS256 (or ES256 with an EC key), signed by a key whose
// certificate goes in the JOSE header `x5c`; the registry trusts it through the CA in
// its rootcertbundle. Plain node, no dependencies: the tests must not need a build.
//
// Usage: node token-server.mjs --cert C --key K --sign-cert SC --sign-key SK
//          [--host 127.0.0.1] [--port 5445] [--issuer I] [--service S]
//          [--user NAME:PASSWORD]... [--ttl SECONDS]
import { createPrivateKey, randomUUID, sign, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5445' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'sign-cert': { type: 'string' },
    'sign-key': { type: 'string' },
    issuer: { type: 'string', default: 'sif-test-issuer' },
    service: { type: 'string', default: 'sif-test-registry' },
    user: { type: 'string', multiple: true, default: [] },
    ttl: { type: 'string', default: '300' },
  },
});
for (const name of ['cert', 'key', 'sign-cert', 'sign-key']) {
  if (!opt[name]) {
    console.error(`token-server: error: --${name} is required`);
    process.exit(2);
  }
}

const signKey = createPrivateKey(readFileSync(opt['sign-key']));
const alg = signKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
// x5c holds the DER certificates in standard base64: the PEM bodies, unwrapped.
const x5c = [...readFileSync(opt['sign-cert'], 'utf8').matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END/g)].map(
  (m) => m[1].replace(/\s+/g, ''),
);
const users = new Map(opt.user.map((u) => [u.slice(0, u.indexOf(':')), u.slice(u.indexOf(':') + 1)]));
const ttl = Number(opt.ttl);

const b64url = (data) => Buffer.from(data).toString('base64url');

function jwt(claims) {
  const input = `${b64url(JSON.stringify({ typ: 'JWT', alg, x5c }))}.${b64url(JSON.stringify(claims))}`;
  // ES256 wants the raw r||s signature, not DER (RFC 7518 section 3.4).
  const sig = sign('sha256', Buffer.from(input), alg === 'ES256' ? { key: signKey, dsaEncoding: 'ieee-p1363' } : signKey);
  return `${input}.${b64url(sig)}`;
}

const sameString = (a, b) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The user named by a Basic header; undefined when anonymous; null when wrong. */
function authenticate(header) {
  if (!header) return undefined;
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m) return null;
  const plain = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  if (colon < 0) return null;
  const name = plain.slice(0, colon);
  const expected = users.get(name);
  return expected !== undefined && sameString(expected, plain.slice(colon + 1)) ? name : null;
}

/** One access entry for a scope "type:name:actions" (the name may contain ':'). */
function grant(scope, user) {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return null;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const wanted = scope.slice(last + 1).split(',').filter(Boolean);
  let allowed = [];
  if (type === 'repository') allowed = user ? ['pull', 'push'] : name.startsWith('public/') ? ['pull'] : [];
  else if (type === 'registry' && name === 'catalog' && user) allowed = ['*'];
  return { type, name, actions: wanted.filter((a) => allowed.includes(a)) };
}

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const server = createServer({ cert: readFileSync(opt.cert), key: readFileSync(opt.key) }, (req, res) => {
  const url = new URL(req.url ?? '/', 'https://token.invalid');
  const user = authenticate(req.headers.authorization);
  const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
  const service = url.searchParams.get('service');
  const done = (status, note) =>
    console.log(`${new Date().toISOString()} ${req.method} ${url.pathname}${url.search} user=${user ?? '-'} -> ${status} ${note}`);

  if (url.pathname !== '/token') {
    reply(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'only /token is served' }] });
    return done(404, '');
  }
  if (req.method !== 'GET') {
    reply(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'use GET /token' }] }, { Allow: 'GET' });
    return done(405, '');
  }
  if (user === null) {
    reply(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }, {
      'WWW-Authenticate': 'Basic realm="sif-test-token"',
    });
    return done(401, 'bad credentials');
  }
  if (service !== null && service !== opt.service) {
    reply(res, 400, { errors: [{ code: 'INVALID_SERVICE', message: `unknown service ${service}` }] });
    return done(400, 'bad service');
  }
  const access = [];
  for (const scope of scopes) {
    const entry = grant(scope, user);
    if (!entry) {
      reply(res, 400, { errors: [{ code: 'INVALID_SCOPE', message: `malformed scope ${scope}` }] });
      return done(400, 'bad scope');
    }
    access.push(entry);
  }
  const now = Math.floor(Date.now() / 1000);
  const token = jwt({
    iss: opt.issuer,
    sub: user ?? '',
    aud: opt.service,
    exp: now + ttl,
    nbf: now - 10, // a little slack for clock steps between client and registry
    iat: now,
    jti: randomUUID(),
    access,
  });
  reply(res, 200, { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() });
  return done(200, JSON.stringify(access));
});

server.listen(Number(opt.port), opt.host, () => {
  console.log(`token-server: listening on https://${opt.host}:${opt.port}/token (${alg}, service ${opt.service})`);
});
// Nothing to flush: stop at once, open keep-alive connections included.
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
