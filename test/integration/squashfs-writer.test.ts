// The squashfs writer (native/squashfs over libsquashfs), checked with independent
// readers: unsquashfs (squashfs-tools), rdsquashfs and sqfsdiff (squashfs-tools-ng),
// and the kernel's view of the files unsquashfs extracts (lstat, xattrs).
// An integration test: it needs those tools, root (device nodes, owners and security.*
// xattrs are restored on extraction; the kernel mount) and squashfuse_ll, all installed
// by scripts/setup-host.sh.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { SifError } from '../../src/errors.js';
import { SquashfsWriter, type EntryMeta, type SquashfsCompressor, type SquashfsWriterOptions } from '../../src/image/squashfs-writer.js';
import { expectSifError, makeTmpDir } from '../unit/image/support.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
afterEach(() => cleanup());

function run(cmd: string, args: string[], ok: number[] = [0]): Buffer {
  const r = spawnSync(cmd, args, { maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (!ok.includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr.toString()}\n${r.stdout.toString()}`);
  return r.stdout;
}

const T = 1_700_000_000;
const meta = (mode: number, uid = 0, gid = 0, mtime = T, xattrs?: EntryMeta['xattrs']): EntryMeta => ({ mode, uid, gid, mtime, xattrs });
const LONG = 'L'.repeat(255);
const NON_UTF8 = Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]); // "f\xff\xfe.bin"
const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep, VFS_CAP_REVISION_2

let big: Buffer;
const small = Buffer.from('small file, stored in a fragment\n');
beforeAll(() => {
  big = randomBytes(5 << 20);
});

async function* chunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < data.length; off += size) yield Buffer.from(data.subarray(off, off + size));
}

/** Every kind of entry; directories implied, described late, and described up front. */
async function buildSample(path: string, options: SquashfsWriterOptions = {}): Promise<void> {
  const w = await SquashfsWriter.create(path, { mtime: T, ...options });
  await w.addDirectory('/', meta(0o755));
  await w.addDirectory('etc', meta(0o755, 0, 0, T, { 'user.comment': 'config here' }));
  await w.addFile('etc/small.txt', meta(0o644, 1000, 100), small);
  await w.addSymlink('etc/link', 'small.txt', meta(0o777, 1000, 100));
  await w.addHardlink('etc/hard', 'etc/small.txt');
  await w.addFile(Buffer.concat([Buffer.from('etc/'), NON_UTF8]), meta(0o600, 7, 8), Buffer.from('bytes name\n'));
  await w.addFile('usr/local/bin/big.bin', meta(0o755, 1000, 1000), chunks(big, 65536)); // usr, usr/local, usr/local/bin implied
  await w.addDirectory('usr/local', meta(0o750, 1, 2, T + 5)); // described after being implied
  await w.addFile('usr/local/bin/sudo', meta(0o4755), Buffer.from('#!/bin/sh\n'));
  await w.addFile('usr/local/bin/ping', meta(0o755, 0, 0, T, { 'security.capability': CAP }), Buffer.from('ping'));
  await w.addFile('empty', meta(0o644), Buffer.alloc(0));
  await w.addDirectory('tmp', meta(0o1777));
  await w.addDirectory('srv', meta(0o2775, 0, 50));
  await w.addFifo('dev/fifo', meta(0o644));
  await w.addDevice('dev/null', 'char', 1, 3, meta(0o666));
  await w.addDevice('dev/sda1', 'block', 8, 1, meta(0o660, 0, 6));
  await w.addDevice('dev/wide', 'char', 511, 70000, meta(0o600));
  await w.addFile(LONG, meta(0o644), Buffer.from('long name\n'));
  await w.finish();
}

/** unsquashfs -lln: path (below squashfs-root) -> the columns before the path. */
function listing(img: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of run('unsquashfs', ['-lln', img]).toString('latin1').split('\n')) {
    const m = /^(\S+) (\S+) +(\d+(?:, *\d+)?) \S+ \S+ squashfs-root(\S*)(?: -> (.*))?$/.exec(line);
    if (m) out.set(m[4] || '/', `${m[1]} ${m[2]} ${m[3]!.replace(/ +/g, '')}${m[5] ? ` -> ${m[5]}` : ''}`);
  }
  return out;
}

function xattr(file: string, name: string): Buffer {
  return run('python3', ['-c', 'import os,sys; sys.stdout.buffer.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False))', file, name]);
}

/** The sample tree as the kernel shows it below `root` (an extraction or a mount). */
async function checkTree(x: string): Promise<void> {
  expect((await readFile(join(x, 'usr/local/bin/big.bin'))).equals(big)).toBe(true);
  expect((await readFile(join(x, 'etc/small.txt'))).equals(small)).toBe(true);
  expect((await readFile(join(x, 'empty'))).length).toBe(0);
  expect((await readFile(join(x, LONG))).toString()).toBe('long name\n');
  const etc = await readdir(join(x, 'etc'), { encoding: 'buffer' });
  expect(etc.some((n) => n.equals(NON_UTF8))).toBe(true);
  expect((await readFile(Buffer.concat([Buffer.from(join(x, 'etc') + '/'), NON_UTF8]))).toString()).toBe('bytes name\n');
  expect(await readlink(join(x, 'etc/link'))).toBe('small.txt');
  const [hard, orig] = [await lstat(join(x, 'etc/hard')), await lstat(join(x, 'etc/small.txt'))];
  expect(hard.ino).toBe(orig.ino);
  expect(orig.nlink).toBe(2);
  expect([orig.uid, orig.gid, orig.mode & 0o7777]).toEqual([1000, 100, 0o644]);
  expect((await lstat(join(x, 'dev/fifo'))).isFIFO()).toBe(true);
  const wide = await lstat(join(x, 'dev/wide'));
  expect(wide.isCharacterDevice()).toBe(true);
  expect([(wide.rdev >>> 8) & 0xfff, (wide.rdev & 0xff) | ((wide.rdev >>> 12) & 0xfff00)]).toEqual([511, 70000]);
  expect((await lstat(join(x, 'dev/sda1'))).isBlockDevice()).toBe(true);
  const sudo = await lstat(join(x, 'usr/local/bin/sudo'));
  expect(sudo.mode & 0o7777).toBe(0o4755);
  expect((await lstat(join(x, 'tmp'))).mode & 0o7777).toBe(0o1777);
  const srv = await lstat(join(x, 'srv'));
  expect([srv.isDirectory(), srv.uid, srv.gid, srv.mode & 0o7777]).toEqual([true, 0, 50, 0o2775]);
  const local = await lstat(join(x, 'usr/local'));
  expect([local.uid, local.gid, local.mode & 0o7777]).toEqual([1, 2, 0o750]);
  const sda1 = await lstat(join(x, 'dev/sda1'));
  expect([sda1.gid, sda1.rdev]).toEqual([6, (8 << 8) | 1]);
  expect((await lstat(join(x, 'usr/local/bin/big.bin'))).mtimeMs).toBe(T * 1000);
  expect((await lstat(join(x, 'usr/local'))).mtimeMs).toBe((T + 5) * 1000);
  expect(xattr(join(x, 'usr/local/bin/ping'), 'security.capability').equals(CAP)).toBe(true);
  expect(xattr(join(x, 'etc'), 'user.comment').toString()).toBe('config here');
}

describe('SquashfsWriter: one image with every kind of entry', () => {
  it('reads back with unsquashfs, rdsquashfs and sqfsdiff', async () => {
    const img = join(dir, 'sample.sqfs');
    await buildSample(img, { workers: 4 });
    expect(await readdir(dir)).toEqual(['sample.sqfs']); // no temporary file left
    expect((await stat(img)).size % 4096).toBe(0);

    const ls = listing(img);
    const nonUtf8 = `/etc/${NON_UTF8.toString('latin1')}`;
    expect(Object.fromEntries(ls)).toEqual({
      '/': 'drwxr-xr-x 0/0 ' + ls.get('/')!.split(' ')[2],
      '/dev': expect.stringMatching(/^drwxr-xr-x 0\/0 \d+$/),
      '/dev/fifo': 'prw-r--r-- 0/0 0',
      '/dev/null': 'crw-rw-rw- 0/0 1,3',
      '/dev/sda1': 'brw-rw---- 0/6 8,1',
      // unsquashfs -lln shows a minor above 255 as (rdev >> 8, rdev & 0xff); lstat below checks it.
      '/dev/wide': 'crw------- 0/0 1118719,112',
      '/empty': '-rw-r--r-- 0/0 0',
      '/etc': expect.stringMatching(/^drwxr-xr-x 0\/0 \d+$/),
      '/etc/hard': `-rw-r--r-- 1000/100 ${small.length}`,
      '/etc/link': 'lrwxrwxrwx 1000/100 9 -> small.txt',
      '/etc/small.txt': `-rw-r--r-- 1000/100 ${small.length}`,
      [nonUtf8]: '-rw------- 7/8 11',
      [`/${LONG}`]: '-rw-r--r-- 0/0 10',
      '/srv': expect.stringMatching(/^drwxrwsr-x 0\/50 \d+$/),
      '/tmp': expect.stringMatching(/^drwxrwxrwt 0\/0 \d+$/),
      '/usr': expect.stringMatching(/^drwxr-xr-x 0\/0 \d+$/),
      '/usr/local': expect.stringMatching(/^drwxr-x--- 1\/2 \d+$/),
      '/usr/local/bin': expect.stringMatching(/^drwxr-xr-x 0\/0 \d+$/),
      '/usr/local/bin/big.bin': `-rwxr-xr-x 1000/1000 ${5 << 20}`,
      '/usr/local/bin/ping': '-rwxr-xr-x 0/0 4',
      '/usr/local/bin/sudo': '-rwsr-xr-x 0/0 10',
    });

    // Extract (as root: owners, modes, device nodes and xattrs are restored) and compare.
    const x = join(dir, 'x');
    run('unsquashfs', ['-q', '-n', '-d', x, img]);
    await checkTree(x);

    // squashfs-tools-ng: inode internals and xattrs as libsquashfs's reader sees them.
    expect(run('rdsquashfs', ['-s', '/etc/small.txt', img]).toString()).toMatch(/Hard link count: 2/);
    expect(run('rdsquashfs', ['-s', '/dev/wide', img]).toString()).toMatch(/Device number: 511:70000/);
    expect(run('rdsquashfs', ['-x', '/etc', img]).toString()).toContain('user.comment=config here');
    // The same tree repacked by mksquashfs from the extraction compares equal,
    // contents, owners, permissions and timestamps included.
    const ref = join(dir, 'ref.sqfs');
    run('mksquashfs', [x, ref, '-quiet', '-no-progress', '-comp', 'gzip']);
    const diff = spawnSync('sqfsdiff', ['-T', '-a', img, '-b', ref]);
    expect(`${diff.status} ${diff.stdout.toString()}${diff.stderr.toString()}`).toBe('0 ');
  }, 60_000);

  it('is reproducible: two builds are byte-identical', async () => {
    const [a, b] = [join(dir, 'a.sqfs'), join(dir, 'b.sqfs')];
    await buildSample(a, { workers: 4 });
    await buildSample(b, { workers: 3 });
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
  }, 60_000);
});

describe('SquashfsWriter: remove(), for an entry a later one replaces', () => {
  it('unlinks names (a directory with all below it); an inode another name still shares stays', async () => {
    const img = join(dir, 'rm.sqfs');
    const w = await SquashfsWriter.create(img, { mtime: T });
    await w.addFile('f', meta(0o600), Buffer.from('first'));
    await w.addHardlink('keeps-first', 'f');
    await w.addFile('d/sub/deep', meta(0o644), big);
    await w.addHardlink('d/link-out', 'f');
    await w.addHardlink('out-link', 'd/sub/deep');
    await w.addDirectory('d', meta(0o700));
    await w.addSymlink('s', 'f', meta(0o777));
    expect(await w.remove('f')).toBe(true);
    expect(await w.remove('d')).toBe(true);
    expect(await w.remove('s')).toBe(true);
    expect(await w.remove('s')).toBe(false);
    expect(await w.remove('nothing/there')).toBe(false);
    await expectSifError(w.remove('/'), 'SIF_E_IMAGE_WRITE', 'the root directory cannot be removed');
    await w.addDirectory('f', meta(0o711)); // the names are free again, for any type
    await w.addFile('f/x', meta(0o644), Buffer.from('x'));
    await w.addFile('d', meta(0o640), Buffer.from('now a file'));
    await w.addFile('s', meta(0o644), Buffer.from('s'));
    await w.finish();
    const ls = run('unsquashfs', ['-lln', img]).toString().split('\n').filter((l) => l.includes('squashfs-root/')).map((l) => l.replace(/^(\S+ \S+) +(\d+) .* squashfs-root\//, '$1 $2 '));
    expect(ls.sort()).toEqual(['-rw------- 0/0 5 keeps-first', '-rw-r----- 0/0 10 d', '-rw-r--r-- 0/0 1 f/x', '-rw-r--r-- 0/0 1 s',
      `-rw-r--r-- 0/0 ${big.length} out-link`, 'drwx--x--x 0/0 24 f'].sort());
    expect(run('rdsquashfs', ['-c', '/out-link', img]).equals(big)).toBe(true);
    expect(run('rdsquashfs', ['-c', '/keeps-first', img]).toString()).toBe('first');
    for (const p of ['/keeps-first', '/out-link']) // one name left each: a plain inode, no link count of 2 or 3
      expect(run('rdsquashfs', ['-s', p, img]).toString()).not.toMatch(/Hard link count/);
    const x = join(dir, 'x');
    run('unsquashfs', ['-q', '-n', '-d', x, img]); // the tables are consistent
    expect((await readdir(x)).sort()).toEqual(['d', 'f', 'keeps-first', 'out-link', 's']);
  }, 60_000);
});

describe('SquashfsWriter: small files given whole, written together', () => {
  it('keeps their order and bytes, between streamed files, removals and links, without awaiting each call', async () => {
    const img = join(dir, 'many.sqfs');
    const w = await SquashfsWriter.create(img, { mtime: T });
    const files = new Map<string, Buffer>();
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 3000; i++) {
      // Sizes from empty to past a block, so batches fill by count and by bytes.
      const data = randomBytes(i % 97 === 0 ? 200_000 + i : (i * 37) % 5000);
      files.set(`d${i % 7}/f${i}`, data);
      calls.push(w.addFile(`d${i % 7}/f${i}`, meta(0o644), data));
      if (i === 1500) calls.push(w.addFile('streamed', meta(0o644), chunks(big, 65536)));
      if (i === 2000) calls.push(w.remove('d3/f1999'));
    }
    calls.push(w.addHardlink('link', 'd0/f7'));
    files.delete('d3/f1999');
    await Promise.all(calls);
    await w.finish();
    const x = join(dir, 'x');
    run('unsquashfs', ['-q', '-n', '-d', x, img]);
    for (const [p, data] of files) expect([p, (await readFile(join(x, p))).equals(data)]).toEqual([p, true]);
    expect((await readFile(join(x, 'streamed'))).equals(big)).toBe(true);
    expect((await readFile(join(x, 'link'))).equals(files.get('d0/f7')!)).toBe(true);
    await expect(stat(join(x, 'd3/f1999'))).rejects.toThrow(/ENOENT/);
  }, 120_000);

  it('aborts cleanly with batches still queued: no busy writer, nothing left behind', async () => {
    const img = join(dir, 'aborted.sqfs');
    const w = await SquashfsWriter.create(img, { mtime: T });
    const calls = Array.from({ length: 3000 }, (_, i) => w.addFile(`f${i}`, meta(0o644), randomBytes(i % 4000)).catch(() => undefined));
    await w.abort();
    await Promise.all(calls);
    expect((await readdir(dir)).filter((f) => f.startsWith('aborted'))).toEqual([]);
  }, 60_000);
});

/** Mounts `img` (with squashfuse_ll, as the starter does, or the kernel), runs `fn` on the mount point, unmounts. */
async function withMount(img: string, how: 'squashfuse_ll' | 'kernel', fn: (mnt: string) => Promise<void>): Promise<void> {
  const mnt = join(dir, `mnt-${how}`);
  await mkdir(mnt);
  if (how === 'squashfuse_ll') run('squashfuse_ll', [img, mnt]);
  else run('mount', ['-t', 'squashfs', '-o', 'loop,ro', img, mnt]);
  try {
    await fn(mnt);
  } finally {
    run('umount', [mnt]);
  }
}

const MOUNTS = ['squashfuse_ll', 'kernel'] as const;

describe('SquashfsWriter: mounted, as sif exec sees it', () => {
  it.each(MOUNTS)('%s shows the same tree', async (how) => {
    const img = join(dir, 'sample.sqfs');
    await buildSample(img, { compressor: 'gzip' });
    await withMount(img, how, checkTree);
  }, 60_000);

  it.each(MOUNTS)('%s reads a large directory, many owners, a sparse file and an export table', async (how) => {
    const img = join(dir, 'wide.sqfs');
    const sparse = Buffer.concat([Buffer.alloc(3 << 20), Buffer.from('tail')]);
    const w = await SquashfsWriter.create(img, { exportTable: true, blockSize: 1 << 20 });
    for (let i = 0; i < 3000; i++) // > 256 entries per header, > 8 KiB of listing: an extended inode with an index
      await w.addFile(`many/entry-${String(i).padStart(5, '0')}-${'n'.repeat(i % 40)}`, meta(0o644, 1000 + (i % 500), i % 7), Buffer.from(`${i}\n`));
    await w.addFile('sparse', meta(0o644), sparse);
    const stats = await w.finish();
    expect(stats).toMatchObject({ inodes: 3003, sparseBlocks: 3 });
    expect(run('unsquashfs', ['-s', img]).toString()).toMatch(/Filesystem is exportable via NFS[\s\S]*Number of ids 507/);
    const names = run('unsquashfs', ['-lln', img]).toString().split('\n').filter((l) => l.includes('squashfs-root/many/'));
    expect(names).toHaveLength(3000);
    expect(names[2999]).toMatch(/^-rw-r--r-- 1499\/3 +5 .* squashfs-root\/many\/entry-02999-n{39}$/);
    expect(run('rdsquashfs', ['-c', `/many/entry-02999-${'n'.repeat(39)}`, img]).toString()).toBe('2999\n');
    expect(run('unsquashfs', ['-cat', img, 'sparse']).equals(sparse)).toBe(true);
    await withMount(img, how, async (mnt) => {
      expect((await readdir(join(mnt, 'many'))).length).toBe(3000);
      for (const i of [0, 255, 256, 1777, 2999]) {
        const p = join(mnt, 'many', `entry-${String(i).padStart(5, '0')}-${'n'.repeat(i % 40)}`);
        expect((await readFile(p)).toString()).toBe(`${i}\n`);
        expect((await lstat(p)).uid).toBe(1000 + (i % 500));
      }
      await expect(lstat(join(mnt, 'many', 'entry-00001-'))).rejects.toThrow('ENOENT');
      expect((await readFile(join(mnt, 'sparse'))).equals(sparse)).toBe(true);
    });
  }, 120_000);
});

describe('SquashfsWriter: compressors', () => {
  const cases: [SquashfsCompressor, number | undefined, string][] = [
    ['gzip', 6, 'gzip'],
    ['xz', undefined, 'xz'],
    ['lz4', undefined, 'lz4'],
    ['zstd', 19, 'zstd'],
  ];
  it.each(cases)('%s opens with unsquashfs', async (compressor, level, name) => {
    const img = join(dir, `${compressor}.sqfs`);
    const data = Buffer.concat([big.subarray(0, 1 << 20), Buffer.alloc(300_000, 'abc')]);
    const w = await SquashfsWriter.create(img, { compressor, level, blockSize: 65536 });
    await w.addFile('d/data', meta(0o644), data);
    await w.addFile('d/text', meta(0o644), Buffer.from('hello\n'));
    const stats = await w.finish();
    expect(stats).toMatchObject({ inodes: 4, inputBytes: data.length + 6 });
    expect(run('unsquashfs', ['-s', img]).toString()).toContain(`Compression ${name}`);
    expect(run('unsquashfs', ['-cat', img, 'd/data']).equals(data)).toBe(true);
    expect(run('unsquashfs', ['-cat', img, 'd/text']).toString()).toBe('hello\n');
  }, 60_000);
});

describe('SquashfsWriter: the default compression', () => {
  it('is zstd at level 3 (fast); a level given wins', async () => {
    const level = async (options: SquashfsWriterOptions): Promise<string> => {
      const img = join(dir, `level-${options.level ?? 'default'}.sqfs`);
      const w = await SquashfsWriter.create(img, options);
      await w.addFile('x', meta(0o644), Buffer.alloc(100_000, 'ab'));
      await w.finish();
      const out = run('unsquashfs', ['-s', img]).toString();
      expect(out).toContain('Compression zstd');
      return /compression-level (\d+)/.exec(out)?.[1] ?? out;
    };
    expect(await level({})).toBe('3');
    expect(await level({ level: 19 })).toBe('19');
  }, 60_000);
});

describe('SquashfsWriter: off the main thread', () => {
  it('keeps the event loop responsive during a large write', async () => {
    const img = join(dir, 'large.sqfs');
    const mib = Buffer.concat([randomBytes(1 << 19), Buffer.alloc(1 << 19, 'x')]);
    const data = Buffer.concat(Array.from({ length: 32 }, () => mib));
    let last = Date.now();
    let maxGap = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = Date.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const started = Date.now();
    try {
      const w = await SquashfsWriter.create(img, { compressor: 'xz', workers: 2 });
      // One 32 MiB append: xz needs seconds for it. Were it done on the main thread,
      // the timer would stall for all of that; the thresholds leave room for a busy host.
      await w.addFile('large', meta(0o644), data);
      await w.finish();
    } finally {
      clearInterval(timer);
    }
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThan(1000);
    expect(maxGap).toBeLessThan(Math.min(1000, elapsed / 2));
    expect(ticks).toBeGreaterThan(elapsed / 50);
    expect(run('unsquashfs', ['-cat', img, 'large']).equals(data)).toBe(true);
  }, 120_000);
});

describe('SquashfsWriter: failures leave no file behind', () => {
  it('a failing data source rejects, and abort removes the temporary file', async () => {
    const img = join(dir, 'broken.sqfs');
    const w = await SquashfsWriter.create(img);
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(200_000, 1);
      throw new Error('source broke');
    }
    await expect(w.addFile('f', meta(0o644), failing())).rejects.toThrow('source broke');
    await expectSifError(w.addFile('g', meta(0o644), Buffer.from('x')), 'SIF_E_IMAGE_WRITE', 'failed');
    await w.abort();
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses bad entries with messages naming the step', async () => {
    const img = join(dir, 'bad.sqfs');
    const w = await SquashfsWriter.create(img);
    await w.addFile('a', meta(0o644), Buffer.from('a'));
    await expectSifError(w.addFile('a', meta(0o644), Buffer.from('a')), 'SIF_E_IMAGE_WRITE', 'duplicate entry a');
    await expectSifError(w.addFile('a/b', meta(0o644), Buffer.from('b')), 'SIF_E_IMAGE_WRITE', 'not a directory');
    await expectSifError(w.addDirectory('x/../y', meta(0o755)), 'SIF_E_IMAGE_WRITE', "'..'");
    await expectSifError(w.addHardlink('h', '/'), 'SIF_E_IMAGE_WRITE', 'is a directory');
    const e = await expectSifError(w.addDevice('d', 'char', 4096, 0, meta(0o600)), 'SIF_E_IMAGE_WRITE', 'device number 4096:0',
      'SQFS_ERROR_ARG_INVALID (-16)');
    expect(e.cause).toMatchObject({ sqfsCode: -16, sqfsError: 'SQFS_ERROR_ARG_INVALID' });
    await expectSifError(w.addFile('n'.repeat(256), meta(0o644), Buffer.alloc(0)), 'SIF_E_IMAGE_WRITE', 'name of 256 bytes');
    await expectSifError(w.addFile('x', meta(0o644, 0, 0, T, { 'system.posix_acl_access': Buffer.from('') }), Buffer.alloc(0)),
      'SIF_E_IMAGE_WRITE', 'xattr system.posix_acl_access');
    // The writer is still usable after refused entries.
    await w.addFile('ok', meta(0o644), Buffer.from('ok'));
    await w.finish();
    expect([...listing(img).keys()].sort()).toEqual(['/', '/a', '/ok']);
    expect(await readdir(dir)).toEqual(['bad.sqfs']);
  });

  it('refuses bad options before creating anything', async () => {
    const img = join(dir, 'opt.sqfs');
    await expectSifError(SquashfsWriter.create(img, { blockSize: 1000 }), 'SIF_E_IMAGE_WRITE', 'block size');
    await expectSifError(SquashfsWriter.create(img, { compressor: 'lz4', level: 3 }), 'SIF_E_IMAGE_WRITE', 'no level');
    await expectSifError(SquashfsWriter.create(img, { compressor: 'gzip', level: 10 }), 'SIF_E_IMAGE_WRITE', 'gzip level');
    await expectSifError(SquashfsWriter.create(join(dir, 'no/such/dir.sqfs')), 'SIF_E_IMAGE_WRITE', 'SQFS_ERROR_IO');
    expect(await readdir(dir)).toEqual([]);
  });

  it('replaces an existing image only when finished', async () => {
    const img = join(dir, 'img.sqfs');
    await writeFile(img, 'old');
    const w = await SquashfsWriter.create(img);
    await w.addFile('f', meta(0o644), Buffer.from('new'));
    expect((await readFile(img)).toString()).toBe('old');
    await w.finish();
    expect(run('unsquashfs', ['-cat', img, 'f']).toString()).toBe('new');
    await expect(w.finish()).rejects.toBeInstanceOf(SifError);
  });
});
