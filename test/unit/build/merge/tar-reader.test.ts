// The streaming tar reader: ustar, GNU and pax headers, raw bytes in names and pax
// values, base-256 numbers, malformed and truncated archives. Archives come from the
// test writer (exact control of the bytes), tar-stream's pack and GNU tar.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import * as tarStream from 'tar-stream';
import { ByteReader } from '../../../../src/build/merge/byte-reader.js';
import { TarFormatError, TarReader, type TarEntry } from '../../../../src/build/merge/tar-reader.js';
import { T, fixChecksum, tarEntry, tarball } from './support.js';

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let o = 0; o < data.length; o += size) yield data.subarray(o, o + size);
}

type Read = Omit<TarEntry, 'xattrs' | 'offset'> & { data: string; xattrs?: Record<string, string> };

/** Every entry with its data (latin1) and xattrs (hex). */
async function read(data: Buffer, chunk = 7): Promise<Read[]> {
  const tar = new TarReader(new ByteReader(chunked(data, chunk)));
  const out: Read[] = [];
  for (let e = await tar.next(); e; e = await tar.next()) {
    const parts: Buffer[] = [];
    for await (const p of tar.body()) parts.push(Buffer.from(p));
    const { xattrs, offset: _offset, ...rest } = e;
    const r: Read = { ...rest, data: Buffer.concat(parts).toString('latin1') };
    if (xattrs) r.xattrs = Object.fromEntries([...xattrs].map(([k, v]) => [k, v.toString('hex')]));
    out.push(r);
  }
  return out;
}

const raw = (b: number[]): Buffer => Buffer.from(b);
const NON_UTF8 = raw([0x66, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]); // "f\xff\xfe.bin"

describe('TarReader: headers', () => {
  it('reads every type with its fields, whatever the chunking', async () => {
    const archive = tarball([
      { name: './', type: 'dir', mode: 0o755 },
      { name: 'etc/hosts', data: 'localhost\n', mode: 0o644, uid: 1000, gid: 100, mtime: T + 5 },
      { name: 'bin/su', data: 'x', mode: 0o4755 },
      { name: 'tmp', type: 'dir', mode: 0o1777 },
      { name: 'lnk', type: 'symlink', linkname: '../etc/hosts' },
      { name: 'hard', type: 'link', linkname: 'etc/hosts' },
      { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'dev/sda', type: 'block', mode: 0o660, devmajor: 8, devminor: 0, gid: 6 },
      { name: 'fifo', type: 'fifo', mode: 0o600 },
      { name: 'contig', flag: '7', data: 'c' },
    ]);
    for (const chunk of [1, 7, 512, 100_000]) {
      const entries = await read(archive, chunk);
      expect(entries.map((e) => [e.index, e.type, e.name, e.linkname, e.mode.toString(8), e.uid, e.gid, e.mtime - T, e.size, e.data, e.devmajor, e.devminor])).toEqual([
        [0, 'dir', './', '', '755', 0, 0, 0, 0, '', 0, 0],
        [1, 'file', 'etc/hosts', '', '644', 1000, 100, 5, 10, 'localhost\n', 0, 0],
        [2, 'file', 'bin/su', '', '4755', 0, 0, 0, 1, 'x', 0, 0],
        [3, 'dir', 'tmp/', '', '1777', 0, 0, 0, 0, '', 0, 0],
        [4, 'symlink', 'lnk', '../etc/hosts', '777', 0, 0, 0, 0, '', 0, 0],
        [5, 'link', 'hard', 'etc/hosts', '644', 0, 0, 0, 0, '', 0, 0],
        [6, 'char', 'dev/null', '', '666', 0, 0, 0, 0, '', 1, 3],
        [7, 'block', 'dev/sda', '', '660', 0, 6, 0, 0, '', 8, 0],
        [8, 'fifo', 'fifo', '', '600', 0, 0, 0, 0, '', 0, 0],
        [9, 'file', 'contig', '', '644', 0, 0, 0, 1, 'c', 0, 0],
      ]);
    }
  });

  it('long names: ustar prefix, GNU L/K records, pax path/linkpath; raw bytes kept', async () => {
    const long = `${'d'.repeat(120)}/${'n'.repeat(90)}`;
    const nonUtf8Long = Buffer.concat([Buffer.from('x'.repeat(150) + '/'), NON_UTF8]);
    const entries = await read(tarball([
      { name: long, long: 'prefix', data: 'p' },
      { name: `gnu/${'g'.repeat(250)}`, long: 'gnu', data: 'g' },
      { name: `gnu-link`, type: 'symlink', linkname: `${'t'.repeat(300)}`, long: 'gnu' },
      { name: nonUtf8Long, long: 'gnu', data: 'G' },
      { name: nonUtf8Long, data: 'P' }, // pax path with bytes that are not UTF-8
      { name: 'pax-link', type: 'link', linkname: nonUtf8Long },
      { name: Buffer.concat([Buffer.from('short/'), NON_UTF8]), data: 'u' }, // raw bytes in the ustar field
    ]));
    expect(entries.map((e) => [e.name, e.linkname, e.data])).toEqual([
      [long, '', 'p'],
      [`gnu/${'g'.repeat(250)}`, '', 'g'],
      ['gnu-link', 't'.repeat(300), ''],
      [nonUtf8Long.toString('latin1'), '', 'G'],
      [nonUtf8Long.toString('latin1'), '', 'P'],
      ['pax-link', nonUtf8Long.toString('latin1'), ''],
      [`short/${NON_UTF8.toString('latin1')}`, '', 'u'],
    ]);
  });

  it('pax records: binary xattr values, libarchive xattrs, uid/gid/mtime/size overrides', async () => {
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const tricky = raw([0x00, 0x0a, 0x3d, 0xff, 0x20, 0x0a]); // NUL, newline, '=', 0xff, space, newline
    const entries = await read(tarball([
      { name: 'ping', data: 'p', xattrs: { 'security.capability': cap, 'user.tricky': tricky, 'user.empty': '' } },
      { name: 'la', pax: { 'LIBARCHIVE.xattr.user.a%3Db': Buffer.from('hello').toString('base64') } },
      { name: 'both', xattrs: { 'user.x': 'schily' }, pax: { 'LIBARCHIVE.xattr.user.x': Buffer.from('libarchive').toString('base64') } },
      { name: 'ids', pax: { uid: '4294967294', gid: '3000000000', mtime: '1700000123.987654321' } },
      { name: 'neg', pax: { mtime: '-5.5' } },
      { name: 'sized', data: 'abc', pax: { size: '3', comment: 'ignored', 'SCHILY.dev': '1' } },
    ]));
    expect(entries[0]?.xattrs).toEqual({ 'security.capability': cap.toString('hex'), 'user.tricky': tricky.toString('hex'), 'user.empty': '' });
    expect(entries[1]?.xattrs).toEqual({ 'user.a=b': Buffer.from('hello').toString('hex') });
    expect(entries[2]?.xattrs).toEqual({ 'user.x': Buffer.from('schily').toString('hex') });
    expect([entries[3]?.uid, entries[3]?.gid, entries[3]?.mtime]).toEqual([4294967294, 3000000000, 1700000123]);
    expect(entries[4]?.mtime).toBe(-6);
    expect([entries[5]?.size, entries[5]?.data]).toEqual([3, 'abc']);
  });

  it('GNU base-256 numbers', async () => {
    const [e] = await read(tarball([{ name: 'big-ids', uid: 2 ** 40, gid: 3 * 2 ** 21, mtime: -1, base256: true }]));
    expect([e?.uid, e?.gid, e?.mtime]).toEqual([2 ** 40, 3 * 2 ** 21, -1]);
  });

  it('as Go reads them: link, symlink, device, fifo and directory entries carry no data', async () => {
    // A symlink header claiming 600 bytes of data, followed directly by the next header.
    const h = tarEntry({ name: 'lnk', type: 'symlink', linkname: 't' });
    h.write('00000001130\0', 124, 'latin1'); // size 600
    fixChecksum(h);
    const entries = await read(Buffer.concat([h, tarball([{ name: 'after', data: 'ok' }])]));
    expect(entries.map((e) => [e.name, e.size, e.data])).toEqual([['lnk', 0, ''], ['after', 2, 'ok']]);
  });

  it("a pre-POSIX '\\0' entry with a trailing slash is a directory; a '0' one is a file", async () => {
    const entries = await read(tarball([{ name: 'old/', flag: '\0' }, { name: 'new/', flag: '0' }]));
    expect(entries.map((e) => [e.name, e.type])).toEqual([['old/', 'dir'], ['new/', 'file']]);
  });

  it('global pax headers are ignored; unknown types are returned as such, their data skipped', async () => {
    const g = tarEntry({ name: 'pax_global_header', flag: 'g', data: '52 comment=0123456789012345678901234567890123456789\n' });
    const entries = await read(Buffer.concat([g, tarball([{ name: 'vol', flag: 'V', data: 'label' }, { name: 'f', data: 'x' }])]));
    expect(entries.map((e) => [e.index, e.type, e.typeflag, e.name, e.data])).toEqual([
      [0, 'unknown', 'V', 'vol', 'label'],
      [1, 'file', '0', 'f', 'x'],
    ]);
  });

  it('an archive without the end-of-archive blocks ends at the last entry (as Go accepts it)', async () => {
    expect((await read(tarball([{ name: 'a', data: 'x' }], { end: false }))).map((e) => e.name)).toEqual(['a']);
    expect(await read(Buffer.alloc(0))).toEqual([]);
  });

  it('reads archives written by tar-stream and GNU tar (gnu, posix, ustar, v7)', async () => {
    const pack = tarStream.pack();
    pack.entry({ name: 'dir', type: 'directory', mode: 0o750, uid: 5, gid: 6, mtime: new Date(T * 1000) });
    pack.entry({ name: 'dir/file', mode: 0o640, mtime: new Date(T * 1000) }, 'tar-stream data');
    pack.entry({ name: `dir/${'l'.repeat(150)}`, mtime: new Date(T * 1000) }, 'long');
    pack.entry({ name: 'dir/sym', type: 'symlink', linkname: 'file', mtime: new Date(T * 1000) });
    pack.finalize();
    const parts: Buffer[] = [];
    for await (const c of pack) parts.push(c as Buffer);
    expect((await read(Buffer.concat(parts))).map((e) => [e.type, e.name, e.data, e.mode.toString(8)])).toEqual([
      ['dir', 'dir', '', '750'],
      ['file', 'dir/file', 'tar-stream data', '640'],
      ['file', `dir/${'l'.repeat(150)}`, 'long', '644'],
      ['symlink', 'dir/sym', '', '644'], // tar-stream's default mode; the merge stores symlinks as 0777
    ]);

    const dir = await mkdtemp(join(tmpdir(), 'sif-tar-'));
    try {
      await mkdir(join(dir, 'src', 'sub'), { recursive: true });
      await writeFile(join(dir, 'src', 'sub', 'f'.repeat(120)), 'gnu tar data');
      await symlink('sub', join(dir, 'src', 'link'));
      for (const format of ['gnu', 'posix', 'ustar', 'v7']) {
        const r = spawnSync('tar', ['-C', join(dir, 'src'), `--format=${format}`, '--sort=name', '-cf', '-', '.'], { maxBuffer: 1 << 24 });
        const names = (await read(r.stdout, 1000)).map((e) => [e.type, e.name, e.data]);
        if (format === 'ustar' || format === 'v7') {
          // 'sub/fff...' is 124 bytes: ustar splits it into prefix and name; v7 cannot store it
          expect(names.map((n) => n[1])).toContain('./link');
          continue;
        }
        expect(names).toEqual([
          ['dir', './', ''], ['symlink', './link', ''], ['dir', './sub/', ''], ['file', `./sub/${'f'.repeat(120)}`, 'gnu tar data'],
        ]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('TarReader: bad archives', () => {
  const failsWith = async (data: Buffer, message: string | RegExp): Promise<void> => {
    await expect(read(data)).rejects.toThrow(TarFormatError);
    await expect(read(data)).rejects.toThrow(message);
  };

  it('truncated inside file data, inside a header, after an extended header', async () => {
    const whole = tarball([{ name: 'a', data: 'x'.repeat(3000) }]);
    await failsWith(whole.subarray(0, 512 + 1000), /the data ends inside the entry "a" \(2000 of its bytes missing\)/);
    await failsWith(whole.subarray(0, 300), 'the data ends inside a tar header at byte 0');
    const pax = tarEntry({ name: 'p'.repeat(200), data: 'x' });
    await failsWith(pax.subarray(0, 1024), 'the data ends after an extended header at byte 0, before its entry');
    await failsWith(whole.subarray(0, 512 + 3000), /the data ends inside the entry "a"/); // the padding is missing
  });

  it('a bad checksum or a non-numeric field', async () => {
    const bad = tarball([{ name: 'a', data: 'x' }]);
    bad[10] = (bad[10] as number) ^ 0xff;
    await failsWith(bad, 'not a valid tar header at byte 0 (checksum mismatch)');
    await failsWith(Buffer.concat([tarEntry({ name: 'ok' }), Buffer.alloc(512, 0x41)]), 'not a valid tar header at byte 512');
    const nonNumeric = tarEntry({ name: 'a' });
    nonNumeric.write('12x4', 124, 'latin1');
    fixChecksum(nonNumeric);
    await failsWith(nonNumeric, 'the size field of the tar header at byte 0 is not a number');
  });

  it('malformed pax records, oversized extended headers, sparse files', async () => {
    await failsWith(tarball([tarEntry({ name: 'x', flag: 'x', data: '99 path=a\n' }), { name: 'a' }]), 'malformed pax record');
    await failsWith(tarball([tarEntry({ name: 'x', flag: 'x', data: '10 nokey\n' }), { name: 'a' }]), 'malformed pax record');
    await failsWith(tarball([{ name: 'a', pax: { mtime: 'soon' } }]), 'the pax mtime record of "a" is not a number');
    const huge = tarEntry({ name: 'x', flag: 'x' });
    huge.write('00010000000\0', 124, 'latin1'); // 2 MiB
    fixChecksum(huge);
    await failsWith(huge, 'extended header of 2097152 bytes at byte 0');
    await failsWith(tarball([{ name: 's', flag: 'S' }]), 'GNU sparse file, which is not supported');
    await failsWith(tarball([{ name: 's', pax: { 'GNU.sparse.major': '1' } }]), 'sparse file (pax GNU.sparse)');
  });
});
