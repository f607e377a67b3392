import yargsParser from 'yargs-parser';
import yargs from 'yargs';
import { ACTION_FLAGS, actionEnvDefault, actionOptions, withActionOptions } from '../../../src/cli/action-options.js';
import { parseActionFast } from '../../../src/cli/fast-action.js';
import { GLOBAL_FLAGS } from '../../../src/cli/global-options.js';

describe('parseActionFast', () => {
  it('reads every action option, aliases and repeats into what actionOptions expects', () => {
    const a = parseActionFast(['-B', '/a:/b', '--bind', '/c', '--contain', '-e', '--env', 'X=1', '--env-file', '/f', '--pwd', '/w', '-H', '/h:/home/me', '-W', '/wd', '--writable-tmpfs', '-p', '--nv', '--compat32', '--nv-compat', '--mpi', '--store-ahead', '--no-read-ahead', '--device', 'nvidia.com/gpu=0,nvidia.com/gpu=1', '--device=example.com/x=a', '-d', 'img.sif']);
    expect(a?.image).toBe('img.sif');
    expect(actionOptions(a!)).toEqual({
      bind: ['/a:/b', '/c'], contain: true, cleanenv: true, env: ['X=1'], envFiles: ['/f'], pwd: '/w',
      home: '/h:/home/me', workdir: '/wd', noHome: false, writableTmpfs: true, pid: true, nv: true, mpi: true,
      device: ['nvidia.com/gpu=0', 'nvidia.com/gpu=1', 'example.com/x=a'], noShare: false, compat32: true, nvCompat: true,
      shareLingerMs: 10_000, storeAhead: true, noReadAhead: true,
    });
    expect(a?.debug).toBe(true);
  });

  it('understands --no-home', () => {
    expect(actionOptions(parseActionFast(['--no-home', 'i'])!).noHome).toBe(true);
  });

  it('understands --store-ahead and SIF_STORE_AHEAD; off by default', () => {
    expect(actionOptions(parseActionFast(['--store-ahead', 'i'])!).storeAhead).toBe(true);
    expect(actionOptions(parseActionFast(['i'])!).storeAhead).toBe(false);
    withEnv({ SIF_STORE_AHEAD: '1' }, () => expect(actionOptions(parseActionFast(['i'])!).storeAhead).toBe(true));
  });

  it('understands --no-read-ahead and SIF_NO_READ_AHEAD; read-ahead by default', () => {
    expect(actionOptions(parseActionFast(['--no-read-ahead', 'i'])!).noReadAhead).toBe(true);
    expect(actionOptions(parseActionFast(['i'])!).noReadAhead).toBe(false);
    withEnv({ SIF_NO_READ_AHEAD: '1' }, () => expect(actionOptions(parseActionFast(['i'])!).noReadAhead).toBe(true));
  });

  it('understands --no-share, and SIF_NO_SHARE or APPTAINER_NO_SHARE', () => {
    expect(actionOptions(parseActionFast(['--no-share', 'i'])!).noShare).toBe(true);
    expect(actionOptions(parseActionFast(['i'])!).noShare).toBe(false);
    withEnv({ SIF_NO_SHARE: '1' }, () => expect(actionOptions(parseActionFast(['i'])!).noShare).toBe(true));
    withEnv({ APPTAINER_NO_SHARE: 'yes' }, () => expect(actionOptions(parseActionFast(['i'])!).noShare).toBe(true));
  });

  it('understands --share-linger and SIF_SHARE_LINGER (seconds, 10 by default), and refuses a bad one', () => {
    expect(actionOptions(parseActionFast(['--share-linger', '2.5', 'i'])!).shareLingerMs).toBe(2500);
    expect(actionOptions(parseActionFast(['--share-linger=0', 'i'])!).shareLingerMs).toBe(0);
    expect(actionOptions(parseActionFast(['i'])!).shareLingerMs).toBe(10_000);
    withEnv({ SIF_SHARE_LINGER: '30' }, () => expect(actionOptions(parseActionFast(['i'])!).shareLingerMs).toBe(30_000));
    expect(() => actionOptions(parseActionFast(['--share-linger', 'soon', 'i'])!)).toThrow(/--share-linger .* expects seconds from 0 to 3600, got 'soon'/);
  });

  it.each([
    [['--help', 'i']],
    [['--bogus', 'x', 'i']],
    [[]],
    [['--log-format', 'xml', 'i']],
  ])('leaves %j to the full CLI (help, unknown options, no image, bad choices)', (tokens) => {
    expect(parseActionFast(tokens)).toBeUndefined();
  });

  it('takes two --env-file options, in order', () => {
    expect(actionOptions(parseActionFast(['--env-file', '/a', '--env-file=/b', 'i'])!).envFiles).toEqual(['/a', '/b']);
  });

  const withEnv = (vars: Record<string, string>, fn: () => void) => {
    Object.assign(process.env, vars);
    try {
      fn();
    } finally {
      for (const k of Object.keys(vars)) delete process.env[k];
    }
  };

  it('takes defaults from SIF_<FLAG> variables; binds from variables add to --bind', () => {
    withEnv({ SIF_BIND: '/from/env', SIF_CONTAIN: '1' }, () => {
      expect(actionOptions(parseActionFast(['i'])!)).toMatchObject({ bind: ['/from/env'], contain: true });
      expect(actionOptions(parseActionFast(['-B', '/flag', 'i'])!).bind).toEqual(['/flag', '/from/env']);
    });
  });

  it('takes --nv from SIF_NV or APPTAINER_NV', () => {
    withEnv({ APPTAINER_NV: '1' }, () => expect(actionOptions(parseActionFast(['i'])!).nv).toBe(true));
    withEnv({ SIF_NV: 'no', APPTAINER_NV: '1' }, () => expect(actionOptions(parseActionFast(['i'])!).nv).toBe(false));
    expect(actionOptions(parseActionFast(['i'])!).nv).toBe(false);
  });

  it('takes --device from SIF_DEVICE (comma-separated), and --device over it', () => {
    withEnv({ SIF_DEVICE: 'nvidia.com/gpu=0,nvidia.com/gpu=1' }, () => {
      expect(actionOptions(parseActionFast(['i'])!).device).toEqual(['nvidia.com/gpu=0', 'nvidia.com/gpu=1']);
      expect(actionOptions(parseActionFast(['--device', 'nvidia.com/gpu=all', 'i'])!).device).toEqual(['nvidia.com/gpu=all']);
    });
    expect(actionOptions(parseActionFast(['i'])!).device).toEqual([]);
  });

  it("reads Apptainer's APPTAINER_<FLAG> and SINGULARITY_<FLAG>, SIF_ first, then APPTAINER_", () => {
    withEnv({ APPTAINER_CONTAIN: '1', SINGULARITY_PWD: '/s', APPTAINER_HOME: '/a', SIF_HOME: '/sif', SINGULARITY_HOME: '/s' }, () => {
      expect(actionOptions(parseActionFast(['i'])!)).toMatchObject({ contain: true, pwd: '/s', home: '/sif' });
    });
    withEnv({ APPTAINER_HOME: '/a', SINGULARITY_HOME: '/s', SINGULARITY_CLEANENV: 'no' }, () => {
      expect(actionOptions(parseActionFast(['i'])!)).toMatchObject({ home: '/a', cleanenv: false });
    });
    // Each name once: inside a container SIF_BIND, APPTAINER_BIND and SINGULARITY_BIND hold the same binds.
    withEnv({ SIF_BIND: '/x', APPTAINER_BIND: '/x', SINGULARITY_BIND: '/x', APPTAINER_BINDPATH: '/y', SINGULARITY_BINDPATH: '/z' }, () => {
      expect(actionOptions(parseActionFast(['-B', '/f', 'i'])!).bind).toEqual(['/f', '/x', '/y', '/z']);
    });
  });
});

/** The fast parser before it stopped loading yargs-parser: the oracle it must agree with. */
function parseWithYargs(tokens: readonly string[]): Record<string, unknown> | undefined {
  const flags: Record<string, { type: string; alias?: string }> = { ...ACTION_FLAGS, ...GLOBAL_FLAGS };
  const entries = Object.entries(flags);
  const known = new Set(entries.flatMap(([name, f]) => [name, ...(f.alias ? [f.alias] : [])]));
  if (tokens.some((t) => t === '--help' || t === '-h' || t === '--version')) return undefined;
  const defaults: Record<string, unknown> = { 'log-format': 'pretty' };
  for (const [name, f] of Object.entries(ACTION_FLAGS)) {
    const def = actionEnvDefault(name, f.type);
    if (def !== undefined) defaults[name] = def;
  }
  const parsed = yargsParser([...tokens], {
    string: entries.filter(([, f]) => f.type === 'string').map(([n]) => n),
    boolean: entries.filter(([, f]) => f.type === 'boolean').map(([n]) => n),
    alias: Object.fromEntries(entries.filter(([, f]) => f.alias).map(([n, f]) => [n, [f.alias!]])),
    default: defaults,
    configuration: { 'camel-case-expansion': false, 'strip-aliased': true },
  });
  const { _: positionals, ...options } = parsed;
  if (positionals.length !== 1 || Object.keys(options).some((k) => !known.has(k) && k !== 'home' && k !== 'share' && k !== 'read-ahead')) return undefined;
  if (options['log-format'] !== 'pretty' && options['log-format'] !== 'json') return undefined;
  return { ...options, image: String(positionals[0]) };
}

describe('withActionOptions (the full CLI)', () => {
  it('accepts --no-share and --no-read-ahead under strict(), as yargs reads them', () => {
    const a = withActionOptions(yargs(['--no-share', '--no-read-ahead']).strict().exitProcess(false).fail((m) => {
      throw new Error(m);
    })).parseSync();
    expect(actionOptions(a)).toMatchObject({ noShare: true, noReadAhead: true, noHome: false });
  });
});

describe('parseActionFast against yargs-parser', () => {
  const common: string[][] = [
    ['img.sif'],
    ['-B', '/a:/b', 'img.sif'],
    ['-B', '/a', '-B', '/b', '--bind', '/c', 'img.sif'],
    ['--bind=/x:/y:ro', 'img.sif'],
    ['--bind=', 'img.sif'],
    ['-c', '-e', '--pid', '--writable-tmpfs', 'img.sif'],
    ['--contain', '--contain', 'img.sif'],
    ['--nv', '-c', 'img.sif'],
    ['--env', 'A=1', '--env', 'B=2,C=3', '--env-file', '/f', 'img.sif'],
    ['--pwd', '/a', '--pwd', '/b', 'img.sif'],
    ['-H', '/h:/home/me', 'img.sif'],
    ['--home=/h', 'img.sif'],
    ['--no-home', 'img.sif'],
    ['--no-share', '-B', '/a', 'img.sif'],
    ['--no-read-ahead', '--store-ahead', 'img.sif'],
    ['-W', '/wd', '--workdir', '/wd2', 'img.sif'],
    ['-d', '-v', '-q', '--log-format', 'json', 'img.sif'],
    ['--log-format=json', 'img.sif'],
    ['--debug', '-'],
    ['--pwd', '', 'img.sif'],
  ];

  it.each(common.map((t) => [t]))('reads %j as yargs does', (tokens) => {
    const fast = parseActionFast(tokens);
    expect(fast).toBeDefined();
    expect(fast).toEqual(parseWithYargs(tokens));
  });

  it('agrees with yargs-parser whenever it answers, over many generated command lines', () => {
    const words = [
      '-B', '/a:/b', '--bind', '--bind=/d', '-c', '--contain', '-e', '--cleanenv', '--env', 'X=1', '--env=Y=2',
      '--env-file', '/f', '--pwd', '/w', '-H', '--home', '--home=/h:/x', '--no-home', '-W', '--workdir', '/wd',
      '--writable-tmpfs', '-p', '--pid', '-d', '--debug', '-v', '--verbose', '-q', '--quiet', '--log-format', 'json',
      'pretty', '--log-format=pretty', 'xml', 'true', 'false', '--no-contain', '--contain=false', '-ce', '-B/x',
      '--bogus', '-x', '-', '--', 'img.sif', 'other.sif', '--no-home=1', '-h', '--help', '--version', '--no-share', '--store-ahead', '--no-read-ahead',
    ];
    // A small deterministic generator (xorshift), so that a failure can be replayed.
    let seed = 0x2545f491;
    const next = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const envs = [
      {},
      { SIF_BIND: '/from/env' },
      { SIF_CONTAIN: '1', SIF_HOME: '/eh', SIF_ENV: 'E=1' },
      { SIF_NO_HOME: 'yes' },
      { SIF_NO_SHARE: '1' },
      { SIF_NO_READ_AHEAD: '1' },
      { APPTAINER_CONTAIN: 'no', SINGULARITY_HOME: '/sh', APPTAINER_ENV_FILE: '/ef', APPTAINER_BIND: '/ab' },
    ];
    let answered = 0;
    for (let i = 0; i < 20_000; i++) {
      const tokens = Array.from({ length: next(7) }, () => words[next(words.length)]!);
      if (next(3)) tokens.push('img.sif');
      const env = envs[next(envs.length)]!;
      Object.assign(process.env, env);
      try {
        const fast = parseActionFast(tokens);
        if (fast !== undefined) {
          answered++;
          expect({ tokens, env, parsed: fast }).toEqual({ tokens, env, parsed: parseWithYargs(tokens) });
        }
      } finally {
        for (const k of Object.keys(env)) delete process.env[k];
      }
    }
    expect(answered).toBeGreaterThan(1000);
  });
});
