import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, requireHost, sifAsUser, userEnv, userTempDir } from '../support/unprivileged.js';
import { makeTestImage } from './images.js';

const busybox = join(FIXTURES, 'sif', 'busybox_amd64.sif');
let image: string;

beforeAll(async () => {
  requireHost();
  image = await makeTestImage('/nonexistent');
}, 60_000);

const envOf = async (args: string[], extra: Record<string, string> = {}) => {
  const r = await sifAsUser(['exec', ...args, 'env'], { env: userEnv(extra) });
  expect(r.exitCode).toBe(0);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
};

describe('container environment', () => {
  it('passes host variables, resets PATH and HOME, and drops LD_LIBRARY_PATH', async () => {
    const env = await envOf([image], { MY_VAR: 'x', LD_LIBRARY_PATH: '/host/lib' });
    expect(env.MY_VAR).toBe('x');
    expect(env.PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(env.HOME).toBe('/home/sif-test');
    expect(env.LD_LIBRARY_PATH).toBeUndefined();
    expect(env.SIF_CONTAINER).toBe(image);
  });

  it('--cleanenv keeps only TERM and proxies; --env, SIFENV_ and --env-file set variables', async () => {
    const dir = await userTempDir('sif-env-');
    const file = join(dir, 'vars.env');
    writeFileSync(file, 'FROM_FILE=1\nBOTH=file\n', { mode: 0o644 });
    const env = await envOf(['--cleanenv', '--env', 'BOTH=flag,OTHER=2', '--env-file', file, image], { MY_VAR: 'x', TERM: 'dumb', SIFENV_PREFIXED: 'yes' });
    expect(env.MY_VAR).toBeUndefined();
    expect(env.TERM).toBe('dumb');
    expect(env).toMatchObject({ FROM_FILE: '1', BOTH: 'flag', OTHER: '2', PREFIXED: 'yes', LANG: 'C' });
  });

  it('SIF_<FLAG> variables work like the flags', async () => {
    const env = await envOf([image], { SIF_CLEANENV: '1', MY_VAR: 'x' });
    expect(env.MY_VAR).toBeUndefined();
  });

  it("sources an Apptainer image's env scripts, and user values still win", async () => {
    const plain = await envOf([busybox]);
    expect(plain.PS1).toMatch(/Singularity> |Apptainer> /);
    const forced = await envOf(['--env', 'PS1=mine', busybox]);
    expect(forced.PS1).toBe('mine');
  });
});
