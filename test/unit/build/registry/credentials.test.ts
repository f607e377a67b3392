import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  dockerConfigPath, listCredentials, lookupCredentials, removeCredentials, saveCredentials, sifCredentialsPath,
} from '../../../../src/build/registry/credentials.js';
import { expectSifError, makeTmpDir } from '../../image/support.js';

let home: string;
let cleanup: () => Promise<void>;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  ({ dir: home, cleanup } = await makeTmpDir());
  env = { HOME: home };
});
afterEach(() => cleanup());

const b64 = (s: string) => Buffer.from(s).toString('base64');
function dockerConfig(config: unknown): void {
  mkdirSync(join(home, '.docker'), { recursive: true });
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify(config));
}

describe('credential files', () => {
  it('puts the sif store under XDG_CONFIG_HOME, else ~/.config; Docker under DOCKER_CONFIG, else ~/.docker', () => {
    expect(sifCredentialsPath(env)).toBe(join(home, '.config', 'sif', 'registries.json'));
    expect(sifCredentialsPath({ ...env, XDG_CONFIG_HOME: '/x' })).toBe('/x/sif/registries.json');
    expect(sifCredentialsPath({ ...env, XDG_CONFIG_HOME: 'relative' })).toBe(join(home, '.config', 'sif', 'registries.json'));
    expect(dockerConfigPath(env)).toBe(join(home, '.docker', 'config.json'));
    expect(dockerConfigPath({ ...env, DOCKER_CONFIG: '/d' })).toBe('/d/config.json');
  });
});

describe('lookupCredentials', () => {
  it('finds nothing without files', async () => {
    expect(await lookupCredentials('docker.io', env)).toEqual({ notes: [] });
  });

  it('reads Docker auths: base64 auth, split fields, and Docker Hub under its legacy key', async () => {
    dockerConfig({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'ghcr.io': { username: 'gh', password: 'tok' },
        'https://reg.example.com:5000/v2/': { auth: b64('u:p') },
      },
    });
    expect((await lookupCredentials('docker.io', env)).credential).toEqual({ username: 'hubuser', password: 'hub:pass' });
    expect((await lookupCredentials('ghcr.io', env)).credential).toEqual({ username: 'gh', password: 'tok' });
    const found = await lookupCredentials('reg.example.com:5000', env);
    expect(found.credential).toEqual({ username: 'u', password: 'p' });
    expect(found.source).toBe(join(home, '.docker', 'config.json'));
    expect((await lookupCredentials('reg.example.com', env)).credential).toBeUndefined();
  });

  it('reads identity tokens', async () => {
    dockerConfig({ auths: { 'myreg.io': { auth: b64('me:'), identitytoken: 'refresh-123' } } });
    expect((await lookupCredentials('myreg.io', env)).credential).toEqual({ identityToken: 'refresh-123', username: 'me' });
  });

  it('prefers sif logins over Docker ones', async () => {
    dockerConfig({ auths: { 'docker.io': { auth: b64('docker:one') } } });
    await saveCredentials('index.docker.io', { username: 'sif', password: 'two' }, env);
    const found = await lookupCredentials('docker.io', env);
    expect(found.credential).toEqual({ username: 'sif', password: 'two' });
    expect(found.source).toBe(sifCredentialsPath(env));
  });

  it('says when Docker keeps the password in a helper it does not run', async () => {
    dockerConfig({ auths: { 'ghcr.io': {} }, credsStore: 'desktop', credHelpers: { '123.dkr.ecr.us-east-1.amazonaws.com': 'ecr-login' } });
    const store = await lookupCredentials('ghcr.io', env);
    expect(store.credential).toBeUndefined();
    expect(store.notes.join()).toContain('credential store "desktop"');
    const helper = await lookupCredentials('123.dkr.ecr.us-east-1.amazonaws.com', env);
    expect(helper.notes.join()).toContain('docker-credential-ecr-login');
  });

  it('reports unreadable JSON and bad auth entries clearly', async () => {
    mkdirSync(join(home, '.docker'));
    writeFileSync(join(home, '.docker', 'config.json'), '{oops');
    await expectSifError(lookupCredentials('docker.io', env), 'SIF_E_REGISTRY_AUTH', 'config.json is not valid JSON');
    dockerConfig({ auths: { 'x.io': { auth: b64('nocolon') } } });
    await expectSifError(lookupCredentials('x.io', env), 'SIF_E_REGISTRY_AUTH', 'not base64 of USER:PASSWORD');
  });
});

describe('saveCredentials / removeCredentials / listCredentials', () => {
  it('writes a 0600 file in a 0700 directory, and forgets logins', async () => {
    const path = await saveCredentials('127.0.0.1:5443', { username: 'u', password: 'p' }, env);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, '.config', 'sif')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ auths: { '127.0.0.1:5443': { username: 'u', password: 'p' } } });
    expect(await removeCredentials('https://127.0.0.1:5443/', env)).toBe(true);
    expect(await removeCredentials('127.0.0.1:5443', env)).toBe(false);
    expect((await lookupCredentials('127.0.0.1:5443', env)).credential).toBeUndefined();
  });

  it('lists both files without passwords, sif first', async () => {
    dockerConfig({ auths: { 'https://index.docker.io/v1/': { auth: b64('d:x') }, 'ghcr.io': { auth: b64('g:y') } } });
    await saveCredentials('docker.io', { username: 's', password: 'z' }, env);
    const list = await listCredentials(env);
    expect(list).toEqual([
      { registry: 'docker.io', username: 's', source: sifCredentialsPath(env) },
      { registry: 'ghcr.io', username: 'g', source: dockerConfigPath(env) },
    ]);
    expect(JSON.stringify(list)).not.toContain('"y"');
  });

  it('notes a store others can read', async () => {
    const path = await saveCredentials('r.io', { username: 'u', password: 'p' }, env);
    const { chmodSync } = await import('node:fs');
    chmodSync(path, 0o644);
    expect((await lookupCredentials('r.io', env)).notes.join()).toContain('readable by others');
  });
});
