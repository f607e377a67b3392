import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, requireHost, sifAsUser, userEnv, userId, userTempDir } from '../support/unprivileged.js';
import { makeBusyboxRootfs, makeSquashfs } from '../support/squashfs.js';
import { makeTestImage } from './images.js';

const busybox = join(FIXTURES, 'sif', 'busybox_amd64.sif');
let image: string;
/** Env scripts as Apptainer writes them for an image whose environment leaves PATH alone. */
let scripted: string;

async function makeScriptedImage(): Promise<string> {
  const dir = await userTempDir('sif-img-');
  const root = join(dir, 'root');
  await makeBusyboxRootfs(root);
  mkdirSync(join(root, '.singularity.d', 'env'), { recursive: true });
  writeFileSync(join(root, '.singularity.d', 'env', '99-base.sh'), 'PS1="Apptainer> "\nexport PS1\n', { mode: 0o755 });
  const out = join(dir, 'scripted.sqfs');
  await makeSquashfs(root, out);
  chmodSync(out, 0o644);
  return out;
}

beforeAll(async () => {
  requireHost();
  image = await makeTestImage('/nonexistent');
  scripted = await makeScriptedImage();
}, 60_000);

const envOf = async (args: string[], extra: Record<string, string> = {}) => {
  const r = await sifAsUser(['exec', ...args, 'env'], { env: userEnv(extra) });
  expect(r).toMatchObject({ exitCode: 0, stderr: '' });
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
};
/** The image's default PATH (Apptainer's), not the test user's host PATH. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

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

  it('honours APPTAINERENV_ and SINGULARITYENV_ as SIFENV_: SIFENV_ wins, then APPTAINERENV_', async () => {
    const env = await envOf([image], { SINGULARITYENV_ONLY_S: 's', APPTAINERENV_ONLY_A: 'a', SINGULARITYENV_SAME: 'x', APPTAINERENV_SAME: 'x', SIFENV_SAME: 'x' });
    expect(env).toMatchObject({ ONLY_S: 's', ONLY_A: 'a', SAME: 'x' });
    expect(env).not.toHaveProperty('APPTAINERENV_ONLY_A');
    // Different values: the strongest wins, and the user is told.
    const r = await sifAsUser(['exec', image, 'sh', '-c', 'echo "$BOTH $ALL"'], {
      env: userEnv({ SINGULARITYENV_BOTH: 's', APPTAINERENV_BOTH: 'a', APPTAINERENV_ALL: 'a', SINGULARITYENV_ALL: 's', SIFENV_ALL: 'sif' }),
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'a sif\n' });
    expect(r.stderr).toMatch(/SINGULARITYENV_BOTH and APPTAINERENV_BOTH differ: using APPTAINERENV_BOTH/);
    expect(r.stderr).toMatch(/APPTAINERENV_ALL and SIFENV_ALL differ: using SIFENV_ALL/);
  });

  it.each([
    ['a plain image', () => image],
    ['an Apptainer-built image', () => busybox],
  ])('evaluates values in the container as Apptainer does (%s)', async (_kind, img) => {
    const dir = await userTempDir('sif-env-');
    const file = join(dir, 'path.env');
    writeFileSync(file, 'FROM_FILE=$PATH:/\n', { mode: 0o644 });
    const env = await envOf(['--env', 'PATH=$PATH:/foo', '--env-file', file, img()], { SIFENV_WHO: '$(id -u)', SIFENV_LIT: '\\$HOME' });
    expect(env.PATH).toBe(`${DEFAULT_PATH}:/foo`);
    expect(env.FROM_FILE).toBe(`${DEFAULT_PATH}:/`);
    expect(env.WHO).toBe(String(userId().uid));
    expect(env.LIT).toBe('$HOME');
  });

  it('an env-file line PATH=$PATH:/ appends to the image PATH', async () => {
    const dir = await userTempDir('sif-env-');
    const file = join(dir, 'path.env');
    writeFileSync(file, 'PATH=$PATH:/\n', { mode: 0o644 });
    expect((await envOf(['--env-file', file, busybox])).PATH).toBe(`${DEFAULT_PATH}:/`);
  });

  it('SIFENV_PREPEND_PATH and SIFENV_APPEND_PATH add their directory once', async () => {
    for (const img of [image, busybox, scripted]) {
      const env = await envOf([img], { SIFENV_PREPEND_PATH: '/foo', SIFENV_APPEND_PATH: '/bar' });
      expect(env.PATH).toBe(`/foo:${DEFAULT_PATH}:/bar`);
    }
  });

  it('--env LD_LIBRARY_PATH=/foo gives /foo:/.singularity.d/libs', async () => {
    for (const img of [image, busybox]) {
      expect((await envOf(['--env', 'LD_LIBRARY_PATH=/foo', img])).LD_LIBRARY_PATH).toBe('/foo:/.singularity.d/libs');
    }
  });

  it('applies two --env-file options, in order', async () => {
    const dir = await userTempDir('sif-env-');
    writeFileSync(join(dir, 'one.env'), 'ONE=1\nBOTH=one\n', { mode: 0o644 });
    writeFileSync(join(dir, 'two.env'), 'TWO=2\nBOTH=two\n', { mode: 0o644 });
    const env = await envOf(['--env-file', join(dir, 'one.env'), '--env-file', join(dir, 'two.env'), image]);
    expect(env).toMatchObject({ ONE: '1', TWO: '2', BOTH: 'two' });
  });

  it('SIFENV_HOME: a warning that HOME cannot be set this way, and the container runs', async () => {
    const r = await sifAsUser(['exec', image, 'sh', '-c', 'echo "$HOME"'], { env: userEnv({ SIFENV_HOME: '/elsewhere' }) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('/home/sif-test\n');
    expect(r.stderr).toMatch(/HOME cannot be set with SIFENV_HOME/);
  });
});

describe('hostile SIFENV_ names', () => {
  it.each([
    ['an Apptainer-built image', () => busybox],
    ['a plain image with a value to evaluate', () => image],
  ])('are ignored with a warning, never run as code, and do not stop the payload (%s)', async (_kind, img) => {
    const dir = await userTempDir('sif-inject-');
    const marker = join(dir, 'ran');
    const r = await sifAsUser(['exec', img(), 'sh', '-c', 'echo "payload $OK"'], {
      env: userEnv({ [`SIFENV_A;touch ${marker};B`]: '1', 'SIFENV_FOO-BAR': '2', SIFENV_OK: '$((1+1))' }),
    });
    expect(r.stdout).toBe('payload 2\n');
    expect(r.exitCode).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(r.stderr).toMatch(/ignoring SIFENV_FOO-BAR: 'FOO-BAR' is not a valid variable name/);
    expect(r.stderr).toMatch(/ignoring SIFENV_A;touch/);
  });
});
