import {
  familiarReference, formatReference, normaliseRegistryName, parseDockerReference, registryApiHost,
} from '../../../../src/build/registry/docker-reference.js';
import { expectSifErrorSync } from '../../image/support.js';

const D = 'sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c';

describe('parseDockerReference', () => {
  // [input, full normalised reference, registry, repository]; cases from Docker's own behaviour.
  it.each([
    ['python', 'docker.io/library/python:latest', 'docker.io', 'library/python'],
    ['python:3.12-slim', 'docker.io/library/python:3.12-slim', 'docker.io', 'library/python'],
    ['library/python', 'docker.io/library/python:latest', 'docker.io', 'library/python'],
    ['docker.io/python', 'docker.io/library/python:latest', 'docker.io', 'library/python'],
    ['index.docker.io/python', 'docker.io/library/python:latest', 'docker.io', 'library/python'],
    ['index.docker.io/library/debian:12', 'docker.io/library/debian:12', 'docker.io', 'library/debian'],
    ['nvidia/cuda:12.4.1-base-ubuntu22.04', 'docker.io/nvidia/cuda:12.4.1-base-ubuntu22.04', 'docker.io', 'nvidia/cuda'],
    ['docker.io/library/foo/bar', 'docker.io/library/foo/bar:latest', 'docker.io', 'library/foo/bar'],
    ['test_com/foo', 'docker.io/test_com/foo:latest', 'docker.io', 'test_com/foo'],
    ['test.com/foo', 'test.com/foo:latest', 'test.com', 'foo'],
    ['test-com:8080/foo', 'test-com:8080/foo:latest', 'test-com:8080', 'foo'],
    ['localhost/foo', 'localhost/foo:latest', 'localhost', 'foo'],
    ['localhost:5000/a/b/c:v1', 'localhost:5000/a/b/c:v1', 'localhost:5000', 'a/b/c'],
    ['127.0.0.1:5443/sif/small', '127.0.0.1:5443/sif/small:latest', '127.0.0.1:5443', 'sif/small'],
    ['[fc00::1]:5000/docker/docker', '[fc00::1]:5000/docker/docker:latest', '[fc00::1]:5000', 'docker/docker'],
    ['Foo/bar', 'Foo/bar:latest', 'Foo', 'bar'], // an upper-case first component can only be a host
    ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080/foo:latest', 'xn--n3h.com:18080', 'foo'],
    ['ghcr.io/org/app:1.0', 'ghcr.io/org/app:1.0', 'ghcr.io', 'org/app'],
    ['192.168.0.1:80', 'docker.io/library/192.168.0.1:80', 'docker.io', 'library/192.168.0.1'], // no '/': a name and a tag
    ['dock__er/d---x', 'docker.io/dock__er/d---x:latest', 'docker.io', 'dock__er/d---x'],
    ['a:Tag_1.x-y', 'docker.io/library/a:Tag_1.x-y', 'docker.io', 'library/a'],
  ])('%s → %s', (input, full, registry, repository) => {
    const ref = parseDockerReference(input);
    expect(formatReference(ref)).toBe(full);
    expect(ref.registry).toBe(registry);
    expect(ref.repository).toBe(repository);
  });

  it('keeps a digest, with or without a tag, and adds no latest to a digest reference', () => {
    expect(parseDockerReference(`redis@${D}`)).toEqual({ registry: 'docker.io', repository: 'library/redis', digest: D });
    expect(parseDockerReference(`busybox:1.36@${D}`)).toEqual({ registry: 'docker.io', repository: 'library/busybox', tag: '1.36', digest: D });
    expect(parseDockerReference(`localhost:5000/x@${D}`).registry).toBe('localhost:5000');
  });

  it('allows a 64-hex repository name only with a registry', () => {
    const hex = D.slice(7);
    expect(parseDockerReference(`docker.io/${hex}`).repository).toBe(`library/${hex}`);
    expectSifErrorSync(() => parseDockerReference(hex), 'SIF_E_BUILD_REFERENCE', 'image ID');
  });

  it.each([
    ['', 'empty'],
    ['docker/Docker', 'must be lowercase'],
    ['docker.io/docker/Docker', 'must be lowercase'],
    ['-docker', 'invalid repository name'],
    ['-docker/docker', 'invalid repository name'],
    ['docker-/docker', 'invalid repository name'],
    ['docker///docker', 'invalid repository name'],
    ['dock..er/docker', 'invalid registry'], // a '.' makes it a host, and not a valid one
    ['dock_.er/docker', 'invalid registry'],
    ['____/____', 'invalid repository name'],
    ['docker/', 'invalid repository name'],
    ['localhost/', 'missing'],
    ['-docker.io/docker/docker', 'invalid registry'],
    ['fc00::1:5000/debian', 'invalid registry'],
    ['[fe80::1%eth0]:5000/debian', 'invalid registry'],
    ['[fc00::1]:5000', 'invalid repository name'],
    ['https://github.com/docker/docker', 'invalid'],
    ['python:', 'invalid tag'],
    ['python:-x', 'invalid tag'],
    [`python:${'a'.repeat(129)}`, 'invalid tag'],
    ['python@sha256:abc', 'not a digest'],
    [`python@sha256:${'A'.repeat(64)}`, 'lower-case hex'],
    [`python@sha256:${'a'.repeat(63)}`, '64 lower-case hex'],
    [`python@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    [`${'a'.repeat(250)}/b`, 'longer than 255'],
  ])('rejects %j', (input, mention) => {
    expectSifErrorSync(() => parseDockerReference(input), 'SIF_E_BUILD_REFERENCE', mention);
  });

  it('names the input in its errors, with a hint', () => {
    const e = expectSifErrorSync(() => parseDockerReference('Python'), 'SIF_E_BUILD_REFERENCE', '"Python"');
    expect(e.hint).toContain('REPOSITORY');
  });
});

describe('familiar and API names', () => {
  it.each([
    ['python', 'python:latest'],
    ['docker.io/library/foo/bar:1', 'library/foo/bar:1'],
    ['nvidia/cuda:12', 'nvidia/cuda:12'],
    ['ghcr.io/a/b', 'ghcr.io/a/b:latest'],
    [`python@${D}`, `python@${D}`],
  ])('%s is shown as %s', (input, familiar) => {
    expect(familiarReference(parseDockerReference(input))).toBe(familiar);
  });

  it('sends Docker Hub requests to registry-1.docker.io', () => {
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });

  it.each([
    ['docker.io', 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['https://GHCR.io', 'ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
    ['127.0.0.1:5443/v2/', '127.0.0.1:5443'],
  ])('login name %s is stored as %s', (name, key) => {
    expect(normaliseRegistryName(name)).toBe(key);
  });

  it('refuses a login name that is no host', () => {
    expectSifErrorSync(() => normaliseRegistryName('not a host'), 'SIF_E_USAGE', 'invalid registry name');
  });
});
