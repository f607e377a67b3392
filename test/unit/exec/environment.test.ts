import { buildEnvironment, DEFAULT_PATH, envScriptShim, parseEnvFile } from '../../../src/exec/environment.js';

const base = { envFile: {}, envFlags: {}, imageEnv: [], home: '/home/alice', imagePath: '/img/app.sif' };
const hostEnv = { PATH: '/opt/bin', HOME: '/root', TERM: 'xterm', LD_LIBRARY_PATH: '/opt/lib', SLURM_JOB_ID: '77', SIF_BIND: '/x', APPTAINER_BIND: '/y', SIFENV_FOO: 'bar', HTTPS_PROXY: 'p' };

describe('buildEnvironment', () => {
  it('passes the host environment except PATH, HOME, LD_LIBRARY_PATH and sif/apptainer settings', () => {
    const { env } = buildEnvironment({ ...base, hostEnv, cleanenv: false });
    expect(env.SLURM_JOB_ID).toBe('77');
    expect(env.TERM).toBe('xterm');
    expect(env.PATH).toBe(DEFAULT_PATH);
    expect(env.HOME).toBe('/home/alice');
    expect(env).not.toHaveProperty('LD_LIBRARY_PATH');
    expect(env).not.toHaveProperty('SIF_BIND');
    expect(env).not.toHaveProperty('APPTAINER_BIND');
    expect(env.FOO).toBe('bar');
    expect(env.SIF_CONTAINER).toBe('/img/app.sif');
    expect(env.APPTAINER_NAME).toBe('app.sif');
  });

  it('keeps only TERM and proxies with --cleanenv, and sets LANG=C', () => {
    const { env } = buildEnvironment({ ...base, hostEnv, cleanenv: true });
    expect(env).not.toHaveProperty('SLURM_JOB_ID');
    expect(env.TERM).toBe('xterm');
    expect(env.HTTPS_PROXY).toBe('p');
    expect(env.LANG).toBe('C');
    expect(env.FOO).toBe('bar'); // SIFENV_ still applies
  });

  it('layers image Env, SIFENV_, --env-file and --env in that order', () => {
    const { env, forced } = buildEnvironment({
      ...base,
      hostEnv: { SIFENV_A: 'sifenv', SIFENV_B: 'sifenv' },
      cleanenv: false,
      imageEnv: ['PATH=/app/bin:/usr/bin', 'A=image', 'LANG=C.UTF-8'],
      envFile: { B: 'file', C: 'file' },
      envFlags: { C: 'flag' },
    });
    expect(env.PATH).toBe('/app/bin:/usr/bin');
    expect(env.LANG).toBe('C.UTF-8');
    expect([env.A, env.B, env.C]).toEqual(['sifenv', 'file', 'flag']);
    expect(forced).toMatchObject({ A: 'sifenv', B: 'file', C: 'flag' });
    expect(forced).not.toHaveProperty('LANG');
  });

  it('refuses HOME and handles PREPEND_PATH/APPEND_PATH', () => {
    expect(() => buildEnvironment({ ...base, hostEnv: {}, cleanenv: false, envFlags: { HOME: '/x' } })).toThrow(/HOME cannot be set/);
    const ce = buildEnvironment({ ...base, hostEnv: { SIFENV_PREPEND_PATH: '/pre', SIFENV_APPEND_PATH: '/post' }, cleanenv: false });
    expect(ce.env.PATH).toBe(`/pre:${DEFAULT_PATH}:/post`);
    expect(ce.env).not.toHaveProperty('PREPEND_PATH');
  });

  it('rejects bad variable names', () => {
    expect(() => buildEnvironment({ ...base, hostEnv: {}, cleanenv: false, envFlags: { 'A-B': '1' } })).toThrow(/not a valid variable name/);
  });
});

describe('parseEnvFile', () => {
  it('reads KEY=VALUE, export, comments and quotes', () => {
    expect(parseEnvFile('# c\nA=1\nexport B="two words"\n\nC=\'x=y\'\n', 'f')).toEqual({ A: '1', B: 'two words', C: 'x=y' });
  });
  it('names the file and line of a bad line', () => {
    expect(() => parseEnvFile('A=1\nnot a pair\n', '/tmp/e.env')).toThrow('/tmp/e.env:2');
  });
});

describe('envScriptShim', () => {
  it('sources env scripts, then re-exports forced values quoted, then execs', () => {
    const script = envScriptShim({ env: {}, forced: { A: "it's" }, prependPath: '/p' });
    const lines = script.split('\n');
    expect(lines[0]).toContain('/.singularity.d/env/*.sh');
    expect(lines).toContain(`export A='it'\\''s'`);
    expect(lines.indexOf(`PATH='/p':"$PATH"`)).toBeGreaterThan(0);
    expect(lines.at(-1)).toBe('exec "$@"');
  });
});
