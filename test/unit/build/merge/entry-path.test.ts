// Entry names as keys (raw bytes as latin1 strings), whiteout names, messages.
import { describe, expect, it } from '@jest/globals';
import {
  EntryNameError, ancestors, keyBytes, normalizeName, parentKey, showKey, whiteoutOf,
} from '../../../../src/build/merge/entry-path.js';

const latin1 = (b: number[]): string => Buffer.from(b).toString('latin1');

describe('normalizeName', () => {
  it.each([
    ['usr/bin/env', 'usr/bin/env'],
    ['./usr/bin/env', 'usr/bin/env'],
    ['/usr/bin/env', 'usr/bin/env'],
    ['///usr//bin/./env', 'usr/bin/env'],
    ['././usr/', 'usr'],
    ['usr/lib/', 'usr/lib'],
    ['./', ''],
    ['.', ''],
    ['/', ''],
    ['.hidden/.file', '.hidden/.file'],
    ['a/.b/c', 'a/.b/c'],
    ['a/..b/c...', 'a/..b/c...'],
    ['a/./b/.', 'a/b'],
  ])('%j -> %j', (raw, key) => {
    expect(normalizeName(raw)).toBe(key);
  });

  it('keeps non-UTF-8 bytes exactly', () => {
    const raw = latin1([0x2e, 0x2f, 0x66, 0xff, 0xfe, 0x2f, 0xc3, 0xa9]); // "./f\xff\xfe/é" (é as UTF-8 bytes)
    expect(keyBytes(normalizeName(raw))).toEqual(Buffer.from([0x66, 0xff, 0xfe, 0x2f, 0xc3, 0xa9]));
  });

  it('takes components of up to 255 bytes, refuses longer ones', () => {
    expect(normalizeName(`d/${'n'.repeat(255)}/${'m'.repeat(255)}`)).toBe(`d/${'n'.repeat(255)}/${'m'.repeat(255)}`);
    expect(() => normalizeName(`d/${'n'.repeat(256)}`)).toThrow('has a component longer than 255 bytes');
    expect(() => normalizeName(`./d//${'n'.repeat(256)}/`)).toThrow('has a component longer than 255 bytes');
  });

  it.each(['..', '../etc/passwd', 'a/../../b', './a/..', '/..'])('refuses %j, naming it', (raw) => {
    expect(() => normalizeName(raw)).toThrow(EntryNameError);
    expect(() => normalizeName(raw)).toThrow(`the name ${JSON.stringify(raw)} contains a '..' component`);
  });
});

describe('paths', () => {
  it('parentKey, ancestors', () => {
    expect(parentKey('a/b/c')).toBe('a/b');
    expect(parentKey('a')).toBe('');
    expect(ancestors('a/b/c')).toEqual(['', 'a', 'a/b']);
    expect(ancestors('a')).toEqual(['']);
    expect(ancestors('')).toEqual([]);
  });

  it('showKey prints UTF-8 names as they are and escapes other bytes', () => {
    expect(showKey('usr/bin')).toBe('"usr/bin"');
    expect(showKey(latin1([0x63, 0x61, 0x66, 0xc3, 0xa9]))).toBe('"café"');
    expect(showKey(latin1([0x66, 0xff, 0x22]))).toBe('"f\\xff\\x22"');
  });
});

describe('whiteoutOf', () => {
  it('recognises whiteouts, opaque markers and AUFS leftovers', () => {
    expect(whiteoutOf('etc/passwd')).toBeUndefined();
    expect(whiteoutOf('etc/.wh.passwd')).toEqual({ kind: 'whiteout', target: 'etc/passwd' });
    expect(whiteoutOf('.wh.top')).toEqual({ kind: 'whiteout', target: 'top' });
    expect(whiteoutOf('.wh..hidden')).toEqual({ kind: 'whiteout', target: '.hidden' });
    expect(whiteoutOf('var/.wh..wh..opq')).toEqual({ kind: 'opaque', dir: 'var' });
    expect(whiteoutOf('.wh..wh..opq')).toEqual({ kind: 'opaque', dir: '' });
    expect(whiteoutOf('.wh..wh.plnk')).toEqual({ kind: 'aufs' });
    expect(whiteoutOf('x/.wh..wh.aufs')).toEqual({ kind: 'aufs' });
    expect(whiteoutOf('.wh..wh.plnk/1234.5')).toEqual({ kind: 'aufs' });
    expect(whiteoutOf('x/.wh..wh.plnk/1234.5')).toBeUndefined();
    expect(whiteoutOf('x/.wh.')).toMatchObject({ kind: 'invalid' });
    expect(whiteoutOf('x/.wh...')).toMatchObject({ kind: 'invalid' });
    expect(whiteoutOf('x/a.wh.b')).toBeUndefined();
  });
});
