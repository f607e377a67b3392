import { parseBinds } from '../../../src/exec/bind-spec.js';
import { SifError } from '../../../src/errors.js';

describe('parseBinds', () => {
  it('parses src, src:dst and src:dst:ro, comma lists and repeats', () => {
    expect(parseBinds(['/data', '/a:/b,/c:/d:ro', 'rel:/e:rw'], '/work')).toEqual([
      { src: '/data', dst: '/data', readonly: false },
      { src: '/a', dst: '/b', readonly: false },
      { src: '/c', dst: '/d', readonly: true },
      { src: '/work/rel', dst: '/e', readonly: false },
    ]);
  });

  it('normalises destinations', () => {
    expect(parseBinds(['/a:/x//y/'], '/')[0]?.dst).toBe('/x/y');
  });

  it.each([
    ['/a:/b:rx', /unknown bind option 'rx'/],
    ['/a:b', /not an absolute path/],
    ['/a:/b:ro:x', /bad bind specification/],
    ['/a::ro', /bad bind specification/],
  ])('rejects %s', (spec, message) => {
    expect(() => parseBinds([spec], '/')).toThrow(message);
    try {
      parseBinds([spec], '/');
    } catch (e) {
      expect((e as SifError).code).toBe('SIF_E_BIND_SPEC');
    }
  });
});
