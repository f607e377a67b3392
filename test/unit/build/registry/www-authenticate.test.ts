import { parseChallenges } from '../../../../src/build/registry/www-authenticate.js';

describe('parseChallenges', () => {
  it('reads a Docker Hub bearer challenge', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/python:pull' } },
    ]);
  });

  it('reads a basic challenge (docker-registry htpasswd)', () => {
    expect(parseChallenges('Basic realm="sif-test-basic"')).toEqual([{ scheme: 'basic', params: { realm: 'sif-test-basic' } }]);
  });

  it('keeps commas inside quoted scopes and lower-cases names, not values', () => {
    const [c] = parseChallenges('BEARER Realm="https://r/t", Service=reg ,  scope="repository:a/b:pull,push repository:c:pull"');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'https://r/t', service: 'reg', scope: 'repository:a/b:pull,push repository:c:pull' } });
  });

  it('unescapes quoted-pairs', () => {
    const [c] = parseChallenges('Basic realm="say \\"hi\\" \\\\ there"');
    expect(c?.params['realm']).toBe('say "hi" \\ there');
  });

  it('splits several challenges in one header and across headers', () => {
    const got = parseChallenges('Basic realm="a", Bearer realm="https://t/token",service="s", error="insufficient_scope"');
    expect(got.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(got[1]?.params).toEqual({ realm: 'https://t/token', service: 's', error: 'insufficient_scope' });
    expect(parseChallenges(['Basic realm="x"', 'Negotiate']).map((c) => c.scheme)).toEqual(['basic', 'negotiate']);
  });

  it('reads token68 forms and empty params', () => {
    expect(parseChallenges('Negotiate abc123==, Basic realm=""')).toEqual([
      { scheme: 'negotiate', params: {}, token68: 'abc123==' },
      { scheme: 'basic', params: { realm: '' } },
    ]);
  });

  it('survives junk and unterminated strings', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges(', ,')).toEqual([]);
    expect(parseChallenges('Bearer realm="https://x')).toEqual([{ scheme: 'bearer', params: { realm: 'https://x' } }]);
  });
});
