import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Descriptor } from '../../../../src/build/image-source.js';
import {
  checkImagePlatform, choosePlatform, formatPlatform, hostPlatform, parsePlatform,
} from '../../../../src/build/registry/platform.js';
import { expectSifErrorSync } from '../../image/support.js';

const here = dirname(fileURLToPath(import.meta.url));
const index = (name: string) => (JSON.parse(readFileSync(join(here, 'fixtures', name), 'utf8')) as { manifests: Descriptor[] }).manifests;
// The layout of a Docker Hub official-image index (debian:bookworm): eight platforms and
// one attestation manifest (platform unknown/unknown) per platform. Digests are stand-ins.
const hub = index('docker-hub-index.json');
// The index the test registry serves for sif/multi (pushed by skopeo from the OCI fixtures).
const multi = index('test-registry-multi-index.json');

const pick = (list: Descriptor[], arch: string) => formatPlatform(choosePlatform(list, parsePlatform(arch), 'img').platform!);

describe('hostPlatform', () => {
  it.each([
    ['x64', 'linux/amd64'],
    ['arm64', 'linux/arm64/v8'],
    ['arm', 'linux/arm/v7'],
    ['ppc64', 'linux/ppc64le'],
    ['s390x', 'linux/s390x'],
    ['ia32', 'linux/386'],
  ])('maps node %s to %s', (arch, oci) => {
    expect(formatPlatform(hostPlatform(arch))).toBe(oci);
  });

  it('refuses an architecture it does not know', () => {
    expectSifErrorSync(() => hostPlatform('vax'), 'SIF_E_BUILD_PLATFORM', 'vax');
  });
});

describe('parsePlatform', () => {
  it.each([
    ['amd64', 'linux/amd64'],
    ['x86_64', 'linux/amd64'],
    ['linux/amd64', 'linux/amd64'],
    ['arm64', 'linux/arm64/v8'],
    ['aarch64', 'linux/arm64/v8'],
    ['arm', 'linux/arm/v7'],
    ['arm/v6', 'linux/arm/v6'],
    ['armhf', 'linux/arm/v7'],
    ['ppc64le', 'linux/ppc64le'],
    ['amd64/v3', 'linux/amd64/v3'],
    ['ARM64', 'linux/arm64/v8'],
  ])('%s → %s', (text, want) => {
    expect(formatPlatform(parsePlatform(text))).toBe(want);
  });

  it.each(['', 'linux/', 'a/b/c', 'amd 64', 'windows/amd64/x/y'])('rejects %j', (text) => {
    expectSifErrorSync(() => parsePlatform(text), 'SIF_E_BUILD_PLATFORM', 'invalid platform');
  });
});

describe('choosePlatform', () => {
  it('picks each platform of a Docker Hub index, never an attestation', () => {
    expect(pick(hub, 'amd64')).toBe('linux/amd64');
    expect(pick(hub, 'arm64')).toBe('linux/arm64/v8');
    expect(pick(hub, 'arm/v7')).toBe('linux/arm/v7');
    expect(pick(hub, 'arm/v5')).toBe('linux/arm/v5');
    expect(pick(hub, 'ppc64le')).toBe('linux/ppc64le');
    expect(pick(hub, 's390x')).toBe('linux/s390x');
    expect(pick(hub, '386')).toBe('linux/386');
  });

  it('runs older arm variants on newer CPUs, never the reverse', () => {
    expect(pick(hub, 'arm/v6')).toBe('linux/arm/v5');
    const v7only = hub.filter((m) => m.platform?.variant === 'v7');
    expectSifErrorSync(() => choosePlatform(v7only, parsePlatform('arm/v6'), 'img'), 'SIF_E_BUILD_PLATFORM');
  });

  it('treats arm64 with and without v8 alike', () => {
    const noVariant = multi.map((m) => ({ ...m, platform: { os: 'linux', architecture: m.platform!.architecture } }));
    expect(choosePlatform(noVariant, parsePlatform('arm64'), 'img').digest).toBe(multi[1]!.digest);
    expect(choosePlatform(multi, { os: 'linux', architecture: 'arm64' }, 'img').digest).toBe(multi[1]!.digest);
  });

  it('gives amd64 to an amd64/v3 host, and no v3 image to a plain amd64 one', () => {
    const v3 = [{ ...hub[0]!, platform: { os: 'linux', architecture: 'amd64', variant: 'v3' } }];
    expect(choosePlatform(hub, parsePlatform('amd64/v3'), 'img').digest).toBe(hub[0]!.digest);
    expectSifErrorSync(() => choosePlatform(v3, parsePlatform('amd64'), 'img'), 'SIF_E_BUILD_PLATFORM');
  });

  it('chooses in the test registry index', () => {
    expect(pick(multi, 'amd64')).toBe('linux/amd64');
    expect(pick(multi, 'arm64')).toBe('linux/arm64/v8');
  });

  it('lists the platforms there are when none fits, attestations left out', () => {
    const e = expectSifErrorSync(() => choosePlatform(hub, parsePlatform('riscv64'), 'debian:bookworm'), 'SIF_E_BUILD_PLATFORM',
      'debian:bookworm has no image for linux/riscv64');
    expect(e.hint).toContain('linux/amd64, linux/arm/v5, linux/arm/v7, linux/arm64/v8, linux/386, linux/mips64le, linux/ppc64le, linux/s390x');
    expect(e.hint).not.toContain('unknown');
  });

  it('takes the single entry of an index that names no platform', () => {
    const only = [{ ...hub[0]!, platform: undefined }] as unknown as Descriptor[];
    expect(choosePlatform(only, parsePlatform('s390x'), 'img')).toBe(only[0]);
  });
});

describe('checkImagePlatform', () => {
  const arm64 = { architecture: 'arm64', os: 'linux' };
  it('accepts a matching image', () => {
    expect(checkImagePlatform(arm64, parsePlatform('arm64'), true, 'img')).toBeUndefined();
    expect(checkImagePlatform({}, parsePlatform('amd64'), true, 'img')).toBeUndefined();
  });
  it('warns when the image differs from the host, fails when the user asked for another', () => {
    expect(checkImagePlatform(arm64, parsePlatform('amd64'), false, 'img')).toContain('img is for linux/arm64');
    expectSifErrorSync(() => checkImagePlatform(arm64, parsePlatform('amd64'), true, 'img'), 'SIF_E_BUILD_PLATFORM', 'not linux/amd64');
  });
});
