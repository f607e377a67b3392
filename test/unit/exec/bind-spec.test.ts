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

  it('reads \\, and \\: as a comma and a colon inside paths', () => {
    expect(parseBinds(['/data/a\\,b:/in\\:c,/x'], '/')).toEqual([
      { src: '/data/a,b', dst: '/in:c', readonly: false },
      { src: '/x', dst: '/x', readonly: false },
    ]);
    expect(parseBinds(['/p\\,q'], '/')).toEqual([{ src: '/p,q', dst: '/p,q', readonly: false }]);
    // Other backslashes are part of the path.
    expect(parseBinds(['/w\\x'], '/')[0]?.src).toBe('/w\\x');
  });

  it('attaches an option after a comma to the bind before it, as Apptainer does', () => {
    expect(parseBinds(['/a:/b:rw,ro,/c'], '/')).toEqual([
      { src: '/a', dst: '/b', readonly: true },
      { src: '/c', dst: '/c', readonly: false },
    ]);
    // Only after src:dst:option; elsewhere 'ro' is a (relative) path.
    expect(() => parseBinds(['/a:/b,ro'], '/work')).toThrow(/'ro' in 'ro' is not an absolute path/);
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
