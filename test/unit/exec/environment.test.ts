import { execFileSync } from 'node:child_process';
import { buildEnvironment, type ContainerEnv, DEFAULT_PATH, doubleQuoted, envScriptShim, type EnvRequest, parseEnvFile } from '../../../src/exec/environment.js';

const base: Omit<EnvRequest, 'hostEnv' | 'cleanenv'> = { envFiles: [], envFlags: {}, imageEnv: [], home: '/home/alice', imagePath: '/img/app.sif', bindDsts: [] };
const hostEnv = { PATH: '/opt/bin', HOME: '/root', TERM: 'xterm', LD_LIBRARY_PATH: '/opt/lib', SLURM_JOB_ID: '77', SIF_BIND: '/x', APPTAINER_BIND: '/y', SIFENV_FOO: 'bar', HTTPS_PROXY: 'p' };
const build = (over: Partial<EnvRequest>) => buildEnvironment({ ...base, hostEnv: {}, cleanenv: false, ...over });

/** Runs the env script with /bin/sh as the starter would (no image scripts here) and returns the environment it execs with. */
function runShim(ce: ContainerEnv): Record<string, string> {
  const out = execFileSync('/bin/sh', ['-c', envScriptShim(ce), 'sif', '/usr/bin/env', '-0'], { env: ce.env, encoding: 'utf8' });
  return Object.fromEntries(out.split('\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

describe('buildEnvironment', () => {
  it('passes the host environment except PATH, HOME, LD_LIBRARY_PATH and sif/apptainer settings', () => {
    const { env } = buildEnvironment({ ...base, hostEnv, cleanenv: false });
    expect(env.SLURM_JOB_ID).toBe('77');
    expect(env.TERM).toBe('xterm');
    expect(env.PATH).toBe(DEFAULT_PATH);
    expect(env.HOME).toBe('/home/alice');
    expect(env).not.toHaveProperty('LD_LIBRARY_PATH');
    expect(env.SIF_BIND).toBe('');
    expect(env.APPTAINER_BIND).toBe('');
    expect(env.FOO).toBe('bar');
    expect(env.SIF_CONTAINER).toBe('/img/app.sif');
    expect(env.APPTAINER_NAME).toBe('app.sif');
  });

  it('passes host variables whose names an object inherits (constructor, toString)', () => {
    const { env } = build({ hostEnv: { constructor: 'c', toString: 't' } });
    expect(Object.hasOwn(env, 'constructor') && env.constructor).toBe('c');
    expect(Object.hasOwn(env, 'toString') && env.toString).toBe('t');
  });

  it("keeps only TERM, proxies and an MPI launcher's variables with --cleanenv, and sets LANG=C", () => {
    const { env } = buildEnvironment({ ...base, hostEnv: { ...hostEnv, PMIX_RANK: '1', UCX_TLS: 'sm', MY_VAR: 'x' }, cleanenv: true });
    expect(env).not.toHaveProperty('MY_VAR');
    expect(env).not.toHaveProperty('UCX_TLS'); // only with --mpi
    expect(env).not.toHaveProperty('LD_LIBRARY_PATH');
    expect(env.SLURM_JOB_ID).toBe('77');
    expect(env.PMIX_RANK).toBe('1');
    expect(env.TERM).toBe('xterm');
    expect(env.HTTPS_PROXY).toBe('p');
    expect(env.LANG).toBe('C');
    expect(env.FOO).toBe('bar'); // SIFENV_ still applies
  });

  it('layers image Env, SIFENV_, each --env-file in turn and --env in that order', () => {
    const { env, user } = build({
      hostEnv: { SIFENV_A: 'sifenv', SIFENV_B: 'sifenv' },
      imageEnv: ['PATH=/app/bin:/usr/bin', 'A=image', 'LANG=C.UTF-8'],
      envFiles: [{ B: 'file1', C: 'file1', D: 'file1' }, { C: 'file2', D: 'file2' }],
      envFlags: { D: 'flag' },
    });
    expect(env.PATH).toBe('/app/bin:/usr/bin');
    expect(env.LANG).toBe('C.UTF-8');
    expect([env.A, env.B, env.C, env.D]).toEqual(['sifenv', 'file1', 'file2', 'flag']);
    expect(user).toEqual({ A: 'sifenv', B: 'file1', C: 'file2', D: 'flag' });
  });

  it("honours Apptainer's APPTAINERENV_ and SINGULARITYENV_: SIFENV_ first, then APPTAINERENV_", () => {
    const ce = build({
      hostEnv: { SINGULARITYENV_A: 's', SINGULARITYENV_B: 's', SINGULARITYENV_C: 's', APPTAINERENV_B: 'a', APPTAINERENV_C: 'a', SIFENV_C: 'sif' },
    });
    expect(ce.user).toEqual({ A: 's', B: 'a', C: 'sif' });
    expect(ce.warnings).toEqual([
      'SINGULARITYENV_B and APPTAINERENV_B differ: using APPTAINERENV_B',
      'SINGULARITYENV_C and APPTAINERENV_C differ: using APPTAINERENV_C',
      'APPTAINERENV_C and SIFENV_C differ: using SIFENV_C',
    ]);
    expect(build({ hostEnv: { APPTAINERENV_PREPEND_PATH: '/pre' } }).env.PATH).toBe(`/pre:${DEFAULT_PATH}`);
  });

  it('ignores, with a warning, prefixed variables whose names are not names (they would be shell code)', () => {
    const ce = build({ hostEnv: { 'SIFENV_A;touch /tmp/x;B': '1', 'SIFENV_FOO-BAR': '2', 'APPTAINERENV_1X': '3', SIFENV_: '4', SIFENV_OK: '5' } });
    expect(ce.user).toEqual({ OK: '5' });
    expect(ce.env).not.toHaveProperty('FOO-BAR');
    expect(ce.warnings).toEqual([
      "ignoring APPTAINERENV_1X: '1X' is not a valid variable name",
      "ignoring SIFENV_A;touch /tmp/x;B: 'A;touch /tmp/x;B' is not a valid variable name",
      "ignoring SIFENV_FOO-BAR: 'FOO-BAR' is not a valid variable name",
    ]);
  });

  it('rejects bad names given on the command line', () => {
    expect(() => build({ envFlags: { 'A-B': '1' } })).toThrow(/not a valid variable name/);
    expect(() => build({ envFiles: [{ 'A;B': '1' }] })).toThrow(/from --env-file/);
  });

  it('ignores HOME with a warning, as Apptainer does, and keeps the container home', () => {
    const ce = build({ hostEnv: { SIFENV_HOME: '/elsewhere' }, envFlags: { HOME: '/x' } });
    expect(ce.env.HOME).toBe('/home/alice');
    expect(ce.user).not.toHaveProperty('HOME');
    expect(ce.warnings).toEqual(['HOME cannot be set with --env HOME=...: ignored (use --home SRC[:DST] for the home directory)']);
    expect(build({ hostEnv: { SIFENV_HOME: '/elsewhere' } }).warnings[0]).toMatch(/HOME cannot be set with SIFENV_HOME/);
  });

  it('PREPEND_PATH, APPEND_PATH and PATH: literal ones in the starting environment, each once', () => {
    const ce = build({ hostEnv: { SIFENV_PREPEND_PATH: '/pre', SIFENV_APPEND_PATH: '/post' } });
    expect(ce.env.PATH).toBe(`/pre:${DEFAULT_PATH}:/post`);
    expect(ce.env).not.toHaveProperty('PREPEND_PATH');
    expect(runShim(ce).PATH).toBe(`/pre:${DEFAULT_PATH}:/post`);
    const replaced = build({ envFlags: { PATH: '/only', PREPEND_PATH: '/pre' } });
    expect(replaced.env.PATH).toBe('/only');
    expect(runShim(replaced).PATH).toBe('/only');
    // Evaluated, PATH still replaces PREPEND_PATH: $PATH is the image's PATH.
    expect(runShim(build({ envFlags: { PATH: '$PATH:/x', PREPEND_PATH: '/pre' } })).PATH).toBe(`${DEFAULT_PATH}:/x`);
  });

  it('evaluates values in the env script: $PATH is the image PATH, $(...) runs there', () => {
    const ce = build({ imageEnv: ['PATH=/app/bin:/bin:/usr/bin'], envFlags: { PATH: '$PATH:/foo', WHO: '$(id -u)', LIT: '\\$HOME', Q: '"$LIT"' } });
    expect(ce.env.PATH).toBe('/app/bin:/bin:/usr/bin'); // not applied before evaluation
    const env = runShim(ce);
    expect(env.PATH).toBe('/app/bin:/bin:/usr/bin:/foo');
    expect(env.WHO).toBe(String(process.getuid?.()));
    expect(env.LIT).toBe('$HOME');
    expect(env.Q).toBe('"$HOME"');
  });

  it("evaluates $FOO in a user FOO as the image's FOO, never the host's or the value itself", () => {
    const ce = build({ hostEnv: { FOO: 'host', BAR: 'host' }, imageEnv: ['BAR=image'], envFlags: { FOO: '$FOO:x', BAR: '$BAR:x', LD_LIBRARY_PATH: '$LD_LIBRARY_PATH:/x' } });
    expect(ce.env).not.toHaveProperty('FOO');
    expect(ce.env.BAR).toBe('image');
    const env = runShim(ce);
    expect([env.FOO, env.BAR, env.LD_LIBRARY_PATH]).toEqual([':x', 'image:x', ':/x:/.singularity.d/libs']);
  });

  it('adds /.singularity.d/libs after a user LD_LIBRARY_PATH, as Apptainer does', () => {
    expect(build({ envFlags: { LD_LIBRARY_PATH: '/foo' } }).env.LD_LIBRARY_PATH).toBe('/foo:/.singularity.d/libs');
    expect(build({ hostEnv: { SIFENV_LD_LIBRARY_PATH: '' } }).env.LD_LIBRARY_PATH).toBe('');
  });

  it('sets SIF_BIND, APPTAINER_BIND and SINGULARITY_BIND to the bind destinations, escaped for --bind', () => {
    const { env } = build({ bindDsts: ['/data', '/a,b', '/c:d'] });
    for (const k of ['SIF_BIND', 'APPTAINER_BIND', 'SINGULARITY_BIND']) expect(env[k]).toBe('/data,/a\\,b,/c\\:d');
  });
});

describe('doubleQuoted', () => {
  const evaluate = (value: string) => execFileSync('/bin/sh', ['-c', `X=${doubleQuoted(value)}; printf %s "$X"`], { encoding: 'utf8', env: { HOME: '/h' } });
  it.each([
    ['plain', 'plain'],
    ['$HOME/x', '/h/x'],
    ['\\$HOME', '$HOME'],
    ['"quoted"', '"quoted"'],
    ['a\\"b', 'a"b'],
    ['ends with \\', 'ends with \\'],
    ["it's", "it's"],
    ['$(echo hi)', 'hi'],
    ['a;b', 'a;b'],
  ])('%j evaluates to %j and stays inside its quotes', (value, expected) => {
    expect(evaluate(value)).toBe(expected);
  });
});

describe('parseEnvFile', () => {
  it('reads KEY=VALUE, export, comments and quotes', () => {
    expect(parseEnvFile('# c\nA=1\nexport B="two words"\n\nC=\'x=y\'\nD=1 # note\n', 'f')).toEqual({ A: '1', B: 'two words', C: 'x=y', D: '1' });
  });

  it('removes one level of quoting and expands nothing: the container evaluates the rest', () => {
    expect(parseEnvFile('PATH=$PATH:/\nP2="\\$PATH:/"\nWHO=\'$(id -u)\'\nW2=$(id -u)\nLIT=\\\\\\$X\n', 'f')).toEqual({
      PATH: '$PATH:/',
      P2: '$PATH:/',
      WHO: '$(id -u)',
      W2: '$(id -u)',
      LIT: '\\$X',
    });
  });

  it('names the file and line of a bad line', () => {
    expect(() => parseEnvFile('A=1\nnot a pair\n', '/tmp/e.env')).toThrow('/tmp/e.env:2');
    expect(() => parseEnvFile('A="open\n', '/tmp/e.env')).toThrow(/e.env:1: expected one word/);
    expect(() => parseEnvFile('A=two words\n', '/tmp/e.env')).toThrow(/e.env:1/);
  });
});

describe('envScriptShim', () => {
  it('starts from the base PATH, sources env scripts, exports values in double quotes, then execs', () => {
    const ce = build({ envFlags: { A: "it's" }, hostEnv: { SIFENV_PREPEND_PATH: '/p' } });
    const lines = envScriptShim(ce).split('\n');
    expect(lines[0]).toBe(`PATH='${DEFAULT_PATH}'`);
    expect(lines[1]).toContain('/.singularity.d/env/*.sh');
    expect(lines).toContain(`export A="it's"`);
    expect(lines.indexOf(`PATH="/p":"$PATH"`)).toBeGreaterThan(1);
    expect(lines.at(-1)).toBe('exec "$@"');
  });

  it('puts /.singularity.d/libs back first after the scripts when --mpi asks (an image script adds it last)', () => {
    const ce = { ...build({ envFlags: { LD_LIBRARY_PATH: '/u' } }), librariesFirst: true };
    expect(runShim(ce).LD_LIBRARY_PATH).toBe('/.singularity.d/libs:/u:/.singularity.d/libs');
    expect(runShim({ ...build({}), librariesFirst: true }).LD_LIBRARY_PATH).toBe('/.singularity.d/libs');
  });

  it('never writes an unchecked name into the script', () => {
    const ce = build({});
    expect(() => envScriptShim({ ...ce, user: { 'A;id;B': '1' } })).toThrow(/unchecked variable name/);
  });
});
