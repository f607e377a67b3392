import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireHost, sifAsUser, userEnv, userTempDir } from '../support/unprivileged.js';
import { makeTestImage } from './images.js';

// Apptainer's option variables, binds and --no-home, as scripts written for Apptainer use them.
let image: string;
let dir: string;

beforeAll(async () => {
  requireHost();
  image = await makeTestImage('/nonexistent');
  dir = await userTempDir('sif-opts-');
  for (const d of ['a,b', 'plain', 'envbind']) {
    mkdirSync(join(dir, d));
    writeFileSync(join(dir, d, 'here'), `${d}\n`, { mode: 0o644 });
  }
}, 60_000);

const run = (args: string[], env: Record<string, string> = {}, cwd?: string) =>
  sifAsUser(['exec', ...args], { env: userEnv(env), ...(cwd ? { cwd } : {}) });

describe("Apptainer's option variables", () => {
  it('APPTAINER_<OPTION> and SINGULARITY_<OPTION> work like SIF_<OPTION>', async () => {
    const clean = await run([image, 'sh', '-c', 'echo "[$MY_VAR]"'], { SINGULARITY_CLEANENV: '1', MY_VAR: 'x' });
    expect(clean.stdout).toBe('[]\n');
    const bound = await run([image, 'cat', '/mnt/here'], { APPTAINER_BIND: `${dir}/plain:/mnt` });
    expect(bound).toMatchObject({ exitCode: 0, stdout: 'plain\n' });
  });

  it('SIF_ wins over APPTAINER_, which wins over SINGULARITY_', async () => {
    const r = await run([image, 'pwd'], { SINGULARITY_PWD: '/bin', APPTAINER_PWD: '/etc', SIF_PWD: '/dev' });
    expect(r.stdout).toBe('/dev\n');
    const a = await run([image, 'pwd'], { SINGULARITY_PWD: '/bin', APPTAINER_PWD: '/etc' });
    expect(a.stdout).toBe('/etc\n');
  });
});

describe('binds', () => {
  it('-B takes \\, for a comma in a path', async () => {
    const r = await run(['-B', `${dir}/a\\,b:/mnt/x\\,y`, image, 'cat', '/mnt/x,y/here']);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'a,b\n' });
  });

  // --writable-tmpfs=true is left to the full CLI: both command-line paths must agree.
  it.each([[[]], [['--writable-tmpfs=true']]])(
    'APPTAINER_BIND, SINGULARITY_BIND and SIF_BIND inside hold the destinations of flag and variable binds (%j)',
    async (extra) => {
      const r = await run(
        [...extra, '-B', `${dir}/plain:/mnt/p`, '-B', `${dir}/a\\,b:/mnt/x\\,y`, image, 'sh', '-c', 'echo "$APPTAINER_BIND|$SINGULARITY_BIND|$SIF_BIND"; cat /mnt/e/here'],
        { APPTAINER_BIND: `${dir}/envbind:/mnt/e` },
      );
      expect(r.exitCode).toBe(0);
      const binds = '/mnt/p,/mnt/x\\,y,/mnt/e';
      expect(r.stdout).toBe(`${binds}|${binds}|${binds}\nenvbind\n`);
    },
  );
});

describe('--no-home', () => {
  it('makes no home directory in the container; the working directory stays where it was', async () => {
    const fromTmp = await run(['--no-home', image, 'sh', '-c', 'pwd; test -e /home/sif-test && echo present || echo absent'], {}, dir);
    expect(fromTmp).toMatchObject({ exitCode: 0, stdout: `${dir}\nabsent\n` });
    const fromRoot = await run(['--no-home', image, 'sh', '-c', 'pwd; test -e /home/sif-test && echo present || echo absent'], {}, '/');
    expect(fromRoot).toMatchObject({ exitCode: 0, stdout: '/\nabsent\n', stderr: '' });
  });
});
