import { describe, expect, it } from '@jest/globals';
import { parseSource, type PathKind } from '../../../src/build/source-spec.js';
import { expectSifErrorSync } from '../image/support.js';

// A fake disk: these paths exist.
const disk: Record<string, PathKind> = {
  '/img/layout': 'dir',
  '/img/odd:name': 'dir',
  '/img/app.tar': 'file',
  '/img/with:colon.tar': 'file',
  'rootfs': 'dir',
  'old.sif': 'file',
};
const stat = (p: string): PathKind => disk[p] ?? null;

describe('parseSource', () => {
  it.each([
    ['docker://python:3.12-slim', { kind: 'docker', ref: 'python:3.12-slim' }],
    ['docker://127.0.0.1:5443/sif/small@sha256:' + 'a'.repeat(64), { kind: 'docker', ref: '127.0.0.1:5443/sif/small@sha256:' + 'a'.repeat(64) }],
    ['oci:/img/layout', { kind: 'oci', path: '/img/layout' }],
    ['oci:/img/layout:small', { kind: 'oci', path: '/img/layout', tag: 'small' }],
    ['oci:/img/odd:name', { kind: 'oci', path: '/img/odd:name' }],
    ['oci:/img/odd:name:v1', { kind: 'oci', path: '/img/odd:name', tag: 'v1' }],
    ['oci-archive:/img/app.tar:latest', { kind: 'oci-archive', path: '/img/app.tar', tag: 'latest' }],
    ['docker-archive:/img/app.tar', { kind: 'docker-archive', path: '/img/app.tar' }],
    ['docker-archive:/img/app.tar:sif/small:v2', { kind: 'docker-archive', path: '/img/app.tar', ref: 'sif/small:v2' }],
    ['docker-archive:/img/with:colon.tar:x:y', { kind: 'docker-archive', path: '/img/with:colon.tar', ref: 'x:y' }],
    ['rootfs', { kind: 'sandbox', path: 'rootfs' }],
    ['old.sif', { kind: 'image', path: 'old.sif' }],
  ])('%s', (text, want) => {
    expect(parseSource(text, stat)).toEqual(want);
  });

  it('refuses sources it cannot read, saying what to use instead', () => {
    expect(expectSifErrorSync(() => parseSource('library://alpine', stat), 'SIF_E_BUILD_REFERENCE', 'library://alpine').hint)
      .toContain('docker://');
    expect(expectSifErrorSync(() => parseSource('docker-daemon:alpine:latest', stat), 'SIF_E_BUILD_REFERENCE').hint)
      .toContain('docker save');
    expectSifErrorSync(() => parseSource('docker://', stat), 'SIF_E_BUILD_REFERENCE', 'docker://python');
    expectSifErrorSync(() => parseSource('ftp://x/y', stat), 'SIF_E_BUILD_REFERENCE', 'unknown source type');
  });

  it('names a missing path, and suggests docker:// for a bare name', () => {
    expectSifErrorSync(() => parseSource('oci:/nowhere:tag', stat), 'SIF_E_BUILD_SOURCE', '/nowhere');
    expectSifErrorSync(() => parseSource('oci-archive:/img/layout', stat), 'SIF_E_BUILD_SOURCE', 'no file /img/layout');
    const e = expectSifErrorSync(() => parseSource('python:3.12', stat), 'SIF_E_BUILD_SOURCE', 'python:3.12');
    expect(e.hint).toBe('for a registry image write docker://python:3.12');
  });
});
