// `sif registry login/logout/list` against the real test registries, and `sif cache
// list/clean` on a cache filled by a real `sif pull`: the commands as a user runs them
// (bin/sif, built by scripts/test.sh, run as the unprivileged test user), with their own
// HOME and SIF_CACHEDIR.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MEDIA } from '../../src/build/image-source.js';
import { httpGet, testRegistries, type TestRegistries } from '../support/registry.js';
import { requireHost, sifAsUser, userId, userTempDir } from '../support/unprivileged.js';

let env: TestRegistries;
let home: string;
beforeAll(async () => {
  requireHost();
  env = await testRegistries();
});
beforeEach(() => {
  home = userTempDir('sif-registry-cli-');
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

function sif(args: string[], input?: string) {
  return sifAsUser(args, { cwd: home, input: input ?? '', env: { HOME: home, SIF_CACHEDIR: join(home, 'cache') }, timeoutMs: 120_000 });
}

describe('sif registry', () => {
  it('logs in after checking the password with the registry, lists and logs out', async () => {
    const ok = await sif(['registry', 'login', '--username', env.basic.user, '--password-stdin', '--ca-cert', env.caFile, env.basic.host], `${env.basic.password}\n`);
    expect(ok.stderr).toBe('');
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain(`logged in to ${env.basic.host} as ${env.basic.user}`);
    const store = join(home, '.config', 'sif', 'registries.json');
    expect(statSync(store).mode & 0o777).toBe(0o600);
    expect(statSync(store).uid).toBe(userId().uid);
    expect(JSON.parse(readFileSync(store, 'utf8')).auths[env.basic.host]).toEqual({ username: env.basic.user, password: env.basic.password });

    const list = await sif(['registry', 'list']);
    expect(list.stdout).toMatch(new RegExp(`${env.basic.host.replace(/\./g, '\\.')}\\s+${env.basic.user}`));
    expect(list.stdout).not.toContain(env.basic.password);
    expect(JSON.parse((await sif(['registry', 'list', '--json'])).stdout)).toEqual([{ registry: env.basic.host, username: env.basic.user, source: store }]);

    expect((await sif(['registry', 'logout', env.basic.host])).stdout).toContain(`logged out of ${env.basic.host}`);
    expect((await sif(['registry', 'logout', env.basic.host])).stdout).toContain('no login');
  }, 30_000);

  it('logs in with a token server too', async () => {
    const r = await sif(['registry', 'login', '--username', env.token.user, '--password-stdin', '--ca-cert', env.caFile, env.token.host], env.token.password);
    expect(r.exitCode).toBe(0);
  });

  it.each(['basic', 'token'] as const)('saves nothing when the %s registry refuses the password', async (kind) => {
    const r = await sif(['registry', 'login', '--username', env[kind].user, '--password-stdin', '--ca-cert', env.caFile, env[kind].host], 'wrong');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`sif: error: registry ${env[kind].host} refused the credentials of user ${env[kind].user}`);
    expect(() => statSync(join(home, '.config', 'sif', 'registries.json'))).toThrow();
  });

  it('explains a TLS failure', async () => {
    const r = await sif(['registry', 'login', '--username', 'x', '--password-stdin', env.basic.host], 'y');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/TLS certificate of .* not trusted[\s\S]*hint: .*--ca-cert/);
  });

  it('needs a password from somewhere without a terminal', async () => {
    const r = await sif(['registry', 'login', '--username', 'x', env.basic.host]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('--password-stdin');
  });
});

describe('sif cache', () => {
  it('lists what a pull cached, with totals, and cleans only with --force off a terminal', async () => {
    expect((await sif(['cache', 'list'])).stdout).toContain('0 blobs, 0 B');
    const ref = `${env.plain.host}/sif/small:latest`;
    const pulled = await sif(['pull', '--insecure', join(home, 'small.sif'), `docker://${ref}`]);
    expect(pulled).toMatchObject({ exitCode: 0 }); // on failure, shows stderr too
    const res = await httpGet(`${env.plain.url}/v2/sif/small/manifests/latest`, { headers: { Accept: MEDIA.ociManifest } });
    expect(res.status).toBe(200);
    const manifest = JSON.parse(res.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };

    const list = await sif(['cache', 'list']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toContain(ref);
    expect(list.stdout).toMatch(/\d+ blobs, [\d.]+ (KiB|MiB)/);
    const json = JSON.parse((await sif(['cache', 'list', '--json'])).stdout) as { blobs: { digest: string; size: number }[]; totalBytes: number };
    expect(json.blobs.length).toBe(manifest.layers.length + 2); // layers, config, manifest
    expect(json.blobs.map((b) => b.digest).sort())
      .toEqual([...manifest.layers.map((l) => l.digest), manifest.config.digest, env.images[ref]!.digest].sort());
    expect(json.totalBytes).toBe(json.blobs.reduce((n, b) => n + b.size, 0));

    const refused = await sif(['cache', 'clean']);
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toContain('--force');
    expect((await sif(['cache', 'clean', '--dry-run'])).stdout).toMatch(/would remove \d+ blobs and 1 tag/);
    const clean = await sif(['cache', 'clean', '--force']);
    expect(clean.stdout).toMatch(/removed \d+ blobs and 1 tag/);
    expect((await sif(['cache', 'list'])).stdout).toContain('0 blobs, 0 B');
  }, 120_000);
});
