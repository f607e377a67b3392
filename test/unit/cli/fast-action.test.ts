import { actionOptions } from '../../../src/cli/action-options.js';
import { parseActionFast } from '../../../src/cli/fast-action.js';

describe('parseActionFast', () => {
  it('reads every action option, aliases and repeats into what actionOptions expects', () => {
    const a = parseActionFast(['-B', '/a:/b', '--bind', '/c', '--contain', '-e', '--env', 'X=1', '--env-file', '/f', '--pwd', '/w', '-H', '/h:/home/me', '-W', '/wd', '--writable-tmpfs', '-p', '-d', 'img.sif']);
    expect(a?.image).toBe('img.sif');
    expect(actionOptions(a!)).toEqual({
      bind: ['/a:/b', '/c'], contain: true, cleanenv: true, env: ['X=1'], envFile: '/f', pwd: '/w',
      home: '/h:/home/me', workdir: '/wd', noHome: false, writableTmpfs: true, pid: true,
    });
    expect(a?.debug).toBe(true);
  });

  it('understands --no-home', () => {
    expect(actionOptions(parseActionFast(['--no-home', 'i'])!).noHome).toBe(true);
  });

  it.each([
    [['--help', 'i']],
    [['--bogus', 'x', 'i']],
    [[]],
    [['--log-format', 'xml', 'i']],
  ])('leaves %j to the full CLI (help, unknown options, no image, bad choices)', (tokens) => {
    expect(parseActionFast(tokens)).toBeUndefined();
  });

  it('takes defaults from SIF_<FLAG> variables', () => {
    process.env.SIF_BIND = '/from/env';
    process.env.SIF_CONTAIN = '1';
    try {
      expect(actionOptions(parseActionFast(['i'])!)).toMatchObject({ bind: ['/from/env'], contain: true });
      expect(actionOptions(parseActionFast(['-B', '/flag', 'i'])!).bind).toEqual(['/flag']);
    } finally {
      delete process.env.SIF_BIND;
      delete process.env.SIF_CONTAIN;
    }
  });
});
