// mergeLayers into a real SquashfsWriter, checked against `umoci unpack` of the same
// layers (the reference for flattening): the image unpacked by unsquashfs and umoci's
// rootfs must have the same types, modes, owners, sizes, contents, link targets,
// hard-link groups, xattrs, device numbers and mtimes. Also read with unsquashfs -lls,
// rdsquashfs and sqfsdiff. Needs root (umoci and unsquashfs apply owners, devices,
// security.* xattrs), umoci, GNU tar and squashfs-tools(-ng).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tarStream from 'tar-stream';
import { mergeLayers } from '../../src/build/merge/merge-layers.js';
import { SquashfsWriter } from '../../src/image/squashfs-writer.js';
import { treeDifferences, treeManifest } from '../support/tree-compare.js';
import { expectSifError } from '../unit/image/support.js';
import { T, gzip, memLayer, run, tarball, umociUnpack, zstd, type TarSpec } from '../unit/build/merge/support.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sif-merge-umoci-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const NON_UTF8 = Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]);
const pseudoRandom = (n: number, seed: string): Buffer => {
  const out: Buffer[] = [];
  for (let i = 0, len = 0; len < n; i++, len += 32) out.push(createHash('sha256').update(`${seed}${i}`).digest());
  return Buffer.concat(out).subarray(0, n);
};

/** Layer 0: a base system with every kind of entry, and what later layers change. */
function layer0(): Buffer {
  const f = (name: string, data: string | Buffer, extra: Partial<TarSpec> = {}): TarSpec => ({ name, data, mtime: T + 1, ...extra });
  const d = (name: string, extra: Partial<TarSpec> = {}): TarSpec => ({ name, type: 'dir', mtime: T + 1, ...extra });
  const deep = Array.from({ length: 12 }, (_, i) => `level-${i}-padding-padding`).join('/');
  return tarball([
    d('./'), d('etc'), f('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'), f('etc/shadow', 'root:*::::::\n', { mode: 0o640, gid: 42 }),
    f('etc/motd', 'layer 0\n'),
    d('bin'), f('bin/busybox', pseudoRandom(200_000, 'busybox'), { mode: 0o755 }), { name: 'bin/sh', type: 'symlink', linkname: 'busybox', mtime: T + 1 },
    { name: 'bin/abs', type: 'symlink', linkname: '/bin/busybox', mtime: T + 2 },
    f('bin/su', '#!/bin/sh\n', { mode: 0o4755 }), f('bin/wall', 'w', { mode: 0o2755, gid: 5 }),
    d('tmp', { mode: 0o1777 }), d('srv', { mode: 0o2775, gid: 50, mtime: T + 10 }),
    d('dev'), { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3, mtime: T + 1 },
    { name: 'dev/sda1', type: 'block', mode: 0o660, gid: 6, devmajor: 8, devminor: 1, mtime: T + 1 },
    { name: 'dev/wide', type: 'char', mode: 0o600, devmajor: 511, devminor: 70000, mtime: T + 1 },
    d('run'), { name: 'run/fifo', type: 'fifo', mode: 0o620, mtime: T + 1 },
    d('usr'), d('usr/bin'), f('usr/bin/ping', 'ping', { mode: 0o755, xattrs: { 'security.capability': CAP } }),
    d('usr/share', { xattrs: { 'user.dir': 'a directory xattr' } }),
    f('usr/share/doc', 'doc', { uid: 1000, gid: 1000, xattrs: { 'user.comment': 'hello', 'trusted.t': Buffer.from([0, 1, 0xff]) } }),
    d('hl'), f('hl/a', 'pair'), { name: 'hl/b', type: 'link', linkname: 'hl/a' },
    f('hl/t', 'target, whited out later', { mode: 0o600, uid: 3 }), { name: 'hl/l', type: 'link', linkname: 'hl/t' },
    f('hl/lower', 'lower data\n'),
    d('d2f'), f('d2f/inner', 'inner'), f('f2d', 'file'),
    d('gone'), d('gone/sub'), f('gone/sub/b', 'b'), d('gone2', { mode: 0o700, uid: 9 }), f('gone2/old', 'old'),
    d('opq'), f('opq/old', 'old'), d('opq/sub'), f('opq/sub/deep', 'deep'),
    d('del'), f('del/gone.txt', 'gone'), f('del/kept.txt', 'kept'),
    d('lowdir', { mode: 0o700, uid: 7, mtime: T + 3 }), f('lowdir/a', 'a'),
    d('names'), f(`names/${'n'.repeat(255)}`, 'long name'), f(Buffer.concat([Buffer.from('names/'), NON_UTF8]).toString('latin1'), 'bytes'),
    { name: Buffer.concat([Buffer.from('names/raw-'), NON_UTF8]), data: 'raw bytes', mtime: T + 1 },
    f(`deep/${deep}/leaf`, 'leaf'), // parents implied, no entries
    f('big', pseudoRandom(3 << 20, 'big')), f('empty', ''),
  ]);
}

/** Layer 1: written by GNU tar (pax format, xattrs) from a staging directory, as image builders do. */
async function layer1(): Promise<Buffer> {
  const st = join(dir, 'stage1');
  const files: [string, string][] = [
    ['del/.wh.gone.txt', ''], ['.wh.gone', ''], ['d2f', 'was a directory\n'], ['f2d/now-a-dir.txt', 'was a file\n'],
    ['opq/.wh..wh..opq', ''], ['opq/fresh', 'fresh\n'], ['etc/motd', 'layer 1\n'], ['lowdir/b', 'b\n'],
    ['.wh.gone2', ''], ['gone2/new', 'new\n'], ['usr/bin/ping', 'ping v2'], ['hl/lower', 'lower data\n'],
  ];
  for (const [p, data] of files) {
    await mkdir(join(st, p, '..'), { recursive: true });
    await writeFile(join(st, p), data);
  }
  await link(join(st, 'hl/lower'), join(st, 'hl/cross'));
  run('setfattr', ['-n', 'security.capability', '-v', `0x${CAP.toString('hex')}`, join(st, 'usr/bin/ping')]);
  run('chmod', ['0750', join(st, 'usr/bin/ping')]);
  const order = ['del', 'del/.wh.gone.txt', '.wh.gone', 'd2f', 'f2d', 'f2d/now-a-dir.txt', 'opq', 'opq/.wh..wh..opq', 'opq/fresh', 'etc/motd',
    'lowdir/b', '.wh.gone2', 'gone2', 'gone2/new', 'usr/bin/ping', 'hl/lower', 'hl/cross'];
  for (const p of order) await utimes(join(st, p), T + 2, T + 2);
  const tarPath = join(dir, 'layer1.tar');
  run('tar', ['-C', st, '--format=posix', '--xattrs', '--xattrs-include=*', '--numeric-owner', '--no-recursion', '-cf', tarPath, ...order]);
  // without hl/lower, hl/cross is a link whose target is in no earlier member: it names layer 0's file
  run('tar', ['--delete', '-f', tarPath, 'hl/lower']);
  return run('cat', [tarPath]);
}

/** Layer 2: written by tar-stream: the directory back over the file, attribute changes, a link target removed. */
async function layer2(): Promise<Buffer> {
  const pack = tarStream.pack();
  const at = new Date((T + 3) * 1000);
  pack.entry({ name: 'd2f', type: 'directory', mode: 0o751, mtime: at });
  pack.entry({ name: 'd2f/z', mode: 0o644, mtime: at }, 'z\n');
  pack.entry({ name: 'hl/.wh.t', mode: 0o644, mtime: at }, '');
  pack.entry({ name: 'etc', type: 'directory', mode: 0o750, uid: 0, gid: 4, mtime: at });
  pack.entry({ name: 'srv/new', mode: 0o644, mtime: at }, 'new\n');
  pack.entry({ name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox', mode: 0o777, mtime: at });
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const c of pack) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Layer 3: what the build pipeline adds on top (Apptainer's /.singularity.d). */
function layer3(): Buffer {
  return tarball([
    { name: '.singularity.d', type: 'dir', mtime: T + 4 },
    { name: '.singularity.d/env', type: 'dir', mtime: T + 4 },
    { name: '.singularity.d/env/90-environment.sh', data: 'export PATH=/bin\n', mode: 0o755, mtime: T + 4 },
    { name: '.singularity.d/runscript', data: '#!/bin/sh\nexec "$@"\n', mode: 0o755, mtime: T + 4 },
    { name: 'singularity', type: 'symlink', linkname: '.singularity.d/runscript', mtime: T + 4 },
  ]);
}

function dirMtimes(root: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of run('find', [root, '-type', 'd', '-printf', '%P\\t%T@\\n']).toString('latin1').split('\n'))
    if (line) out.set(line.split('\t')[0] as string, Math.floor(Number(line.split('\t')[1])));
  return out;
}

describe('mergeLayers into SquashfsWriter, against umoci unpack', () => {
  it('flattens four layers (gzip, zstd, plain) to what umoci unpacks', async () => {
    const started = Math.floor(Date.now() / 1000);
    const tars = [layer0(), await layer1(), await layer2(), layer3()];
    const stored = [gzip(tars[0]!), zstd(tars[1]!), tars[2]!, tars[3]!];
    const img = join(dir, 'image.sqfs');
    const w = await SquashfsWriter.create(img, { mtime: T });
    const warnings: string[] = [];
    const stats = await mergeLayers(stored.map((b, i) => memLayer(`sha256:layer${i}`, b, 65536)), w, { warn: (m) => warnings.push(m) });
    await w.finish();
    expect(warnings).toEqual([]);
    expect(stats).toMatchObject({ layers: 4, hidden: expect.any(Number) });

    const rootfs = await umociUnpack(join(dir, 'umoci'), tars);
    const x = join(dir, 'x');
    run('unsquashfs', ['-q', '-n', '-d', x, img]);
    const want = treeManifest(rootfs);
    const got = treeManifest(x);
    expect(treeDifferences(want, got)).toEqual([]);
    // tree-manifest leaves out directory mtimes; those of directories with an entry in some layer must match too
    const [wantDirs, gotDirs] = [dirMtimes(rootfs), dirMtimes(x)];
    const explicit = [...wantDirs].filter(([, t]) => t < started); // umoci gives directories without an entry the current time
    expect(explicit.length).toBeGreaterThan(15);
    for (const [p, t] of explicit) expect([p, gotDirs.get(p)]).toEqual([p, t]);

    // The cases, as unsquashfs lists them.
    const ls = run('unsquashfs', ['-lln', img]).toString('latin1');
    const line = (p: string): string => ls.split('\n').find((l) => l.endsWith(` squashfs-root/${p}`) || l.includes(` squashfs-root/${p} -> `)) ?? `no ${p}`;
    expect(line('bin/su')).toMatch(/^-rwsr-xr-x 0\/0 /);
    expect(line('bin/wall')).toMatch(/^-rwxr-sr-x 0\/5 /);
    expect(line('tmp')).toMatch(/^drwxrwxrwt 0\/0 /);
    expect(line('srv')).toMatch(/^drwxrwsr-x 0\/50 /); // implied by layer 2's srv/new: layer 0's attributes stay
    expect(line('etc')).toMatch(/^drwxr-x--- 0\/4 /); // layer 2's entry is the highest
    expect(line('lowdir')).toMatch(/^drwx------ 7\/0 /);
    expect(line('dev/null')).toMatch(/^crw-rw-rw- 0\/0 +1, +3 /);
    expect(line('dev/sda1')).toMatch(/^brw-rw---- 0\/6 +8, +1 /);
    expect(line('run/fifo')).toMatch(/^prw--w---- 0\/0 /);
    expect(line('bin/sh')).toMatch(/^lrwxrwxrwx .* -> \/bin\/busybox$/);
    expect(line('d2f')).toMatch(/^drwxr-x--x /);
    expect(line('hl/l')).toMatch(/^-rw------- 3\/0 +24 /); // its target was whited out: the content lives on under the link
    for (const gone of ['gone', 'del/gone.txt', 'opq/old', 'opq/sub', 'd2f/inner', 'hl/t', 'gone2/old', '.wh.gone', 'opq/.wh..wh..opq'])
      expect(ls).not.toContain(` squashfs-root/${gone}\n`);
    expect(run('rdsquashfs', ['-s', '/hl/cross', img]).toString()).toMatch(/Hard link count: 2/); // with layer 0's hl/lower
    expect(run('rdsquashfs', ['-s', '/hl/a', img]).toString()).toMatch(/Hard link count: 2/);
    expect(run('rdsquashfs', ['-x', '/usr/bin/ping', img]).toString()).toContain(`security.capability=0x${CAP.toString('hex')}`);
    expect(run('rdsquashfs', ['-c', '/etc/motd', img]).toString()).toBe('layer 1\n');
    expect(run('rdsquashfs', ['-c', '/big', img]).equals(pseudoRandom(3 << 20, 'big'))).toBe(true);

    // squashfs-tools-ng's comparison with the umoci tree packed by mksquashfs: contents, owners, permissions.
    const ref = join(dir, 'ref.sqfs');
    run('mksquashfs', [rootfs, ref, '-quiet', '-no-progress', '-noappend', '-comp', 'gzip']);
    const diff = spawnSync('sqfsdiff', ['-a', img, '-b', ref]);
    expect(`${diff.status} ${diff.stdout.toString()}${diff.stderr.toString()}`).toBe('0 ');
  }, 120_000);

  it('hard links across layers, to hidden and replaced targets, agree with umoci', async () => {
    const f = (name: string, data: string, extra: Partial<TarSpec> = {}): TarSpec => ({ name, data, mtime: T + 1, ...extra });
    const l = (name: string, target: string): TarSpec => ({ name, type: 'link', linkname: target, mtime: T + 1 });
    const wh = (name: string): TarSpec => ({ name, data: '', mtime: T + 1 });
    const tars = [
      tarball([f('a/t1', 'one', { mode: 0o751, uid: 5 }), f('a/t2', 'two'), l('a/t2-same', 'a/t2'), f('a/t3', 'three'), f('a/t4', 'four'),
        f('a/t5', 'five'), { name: 'a/sym', type: 'symlink', linkname: 't1', mtime: T + 1 }, l('a/sym-link', 'a/sym')]),
      tarball([l('b/to-t1', 'a/t1'), l('b/to-t2', 'a/t2-same'), l('b/to-t3', 'a/t3'), f('a/t4', 'four, replaced'), l('b/mid', 'a/t5')]),
      tarball([l('c/to-t3', 'a/t3'), l('c/to-t4', 'a/t4'), l('c/to-mid', 'b/mid'), l('c/early', 'a/t5'), f('a/t5', 'five, replaced')]),
      tarball([wh('a/.wh.t1'), wh('a/.wh.t3'), wh('b/.wh.mid'), wh('a/.wh.sym')]),
    ];
    const img = join(dir, 'links.sqfs');
    const w = await SquashfsWriter.create(img, { mtime: T });
    await mergeLayers(tars.map((b, i) => memLayer(`sha256:links${i}`, gzip(b))), w);
    await w.finish();
    const rootfs = await umociUnpack(join(dir, 'umoci-links'), tars);
    const x = join(dir, 'x-links');
    run('unsquashfs', ['-q', '-n', '-d', x, img]);
    const got = treeManifest(x);
    expect(treeDifferences(treeManifest(rootfs), got)).toEqual([]);
    expect(got['b/to-t1']).toMatchObject({ mode: '0o751', uid: 5, size: 3 }); // a/t1 itself is whited out
    expect(got['c/to-t3']).toMatchObject({ inode: 'b/to-t3' });
    expect(got['c/to-mid']).toMatchObject({ inode: 'c/early', size: 4 }); // layer 0's a/t5 ("five"), not layer 2's
  }, 60_000);

  it('a path twice in one layer (GNU tar --append): the last entry wins, as umoci and tar extraction have it', async () => {
    // Layer 1 is a tar made, then appended to, by GNU tar: a file rewritten, a directory
    // replaced by a file, a file by a directory, a symlink by a file, and a file replaced
    // and then hard-linked (the link names the last entry).
    const st = join(dir, 'stage-append');
    const put = async (p: string, data: string, mode = 0o644): Promise<void> => {
      await mkdir(join(st, p, '..'), { recursive: true });
      await rm(join(st, p), { recursive: true, force: true });
      await writeFile(join(st, p), data, { mode });
      await utimes(join(st, p), T + 5, T + 5);
    };
    await put('f', 'first version\n', 0o600);
    await put('d2f/inner', 'inner\n');
    await put('f2d', 'a file first\n');
    await put('hl', 'hl v1\n');
    await symlink('f', join(st, 'sym'));
    const tarPath = join(dir, 'append.tar');
    const tar = (...args: string[]): void => void run('tar', ['-C', st, '--format=posix', '--numeric-owner', '--mtime=@' + String(T + 5), ...args]);
    tar('-cf', tarPath, 'f', 'd2f', 'f2d', 'hl', 'sym');
    await put('f', 'second version, longer\n', 0o750);
    await rm(join(st, 'd2f'), { recursive: true });
    await put('d2f', 'now a file\n', 0o755);
    await rm(join(st, 'f2d'));
    await put('f2d/new', 'in the new directory\n');
    await rm(join(st, 'sym'));
    await put('sym', 'a file, not a symlink\n');
    await put('hl', 'hl v2\n', 0o640);
    await link(join(st, 'hl'), join(st, 'hl-link'));
    tar('-rf', tarPath, 'f', 'd2f', 'f2d', 'sym', 'hl', 'hl-link');
    const appended = run('cat', [tarPath]);
    const names = run('tar', ['-tvf', tarPath]).toString();
    expect(names.match(/^-.* f$/gm)).toHaveLength(2); // the layer does have paths twice
    expect(names).toMatch(/^h.* hl-link link to hl$/m);

    const lower = tarball([
      { name: 'd2f', type: 'dir', mtime: T + 1 }, { name: 'd2f/lower', data: 'lower\n', mtime: T + 1 },
      { name: 'f2d', type: 'dir', mtime: T + 1 }, { name: 'f2d/lower', data: 'lower\n', mtime: T + 1 },
      { name: 'f', data: 'lower f\n', mtime: T + 1 },
    ]);
    const img = join(dir, 'append.sqfs');
    const w = await SquashfsWriter.create(img, { mtime: T });
    const warnings: string[] = [];
    const stats = await mergeLayers([memLayer('sha256:lower', gzip(lower)), memLayer('sha256:append', gzip(appended), 1000)], w, { warn: (m) => warnings.push(m) });
    await w.finish();
    const x = join(dir, 'x-append');
    run('unsquashfs', ['-q', '-n', '-d', x, img]);
    const got = treeManifest(x);
    expect(treeDifferences(treeManifest(await umociUnpack(join(dir, 'umoci-append'), [lower, appended])), got)).toEqual([]);
    // The same as GNU tar's own extraction of the two layers, one over the other.
    const ex = join(dir, 'tar-append');
    await mkdir(ex);
    run('tar', ['-C', ex, '-xf', '-'], lower);
    run('tar', ['-C', ex, '--recursive-unlink', '-xf', tarPath]);
    expect(treeDifferences(treeManifest(ex), got)).toEqual([]);
    expect(got['f']).toMatchObject({ mode: '0o750', size: 23 });
    expect(got['d2f']).toMatchObject({ type: 'file', mode: '0o755' });
    expect(got['f2d/new']).toBeDefined();
    expect(got['f2d/lower']).toBeUndefined();
    expect(got['hl-link']).toMatchObject({ inode: 'hl', mode: '0o640', size: 6 });
    expect(warnings).toEqual([]);
    expect(stats.replaced).toBe(5);
  }, 60_000);

  it('a layer failing inside a big file gives SIF_E_BUILD_LAYER through the writer, and the writer is left failed', async () => {
    const img = join(dir, 'broken.sqfs');
    const w = await SquashfsWriter.create(img);
    const tar = tarball([{ name: 'a', data: 'ok' }, { name: 'big', data: pseudoRandom(4 << 20, 'x') }]);
    await expectSifError(mergeLayers([memLayer('sha256:cut', gzip(tar).subarray(0, 2 << 20))], w), 'SIF_E_BUILD_LAYER', 'layer sha256:cut: the gzip data is truncated');
    await expectSifError(w.finish(), 'SIF_E_IMAGE_WRITE', img, 'the writer is failed');
    await w.abort();
    expect((await readdir(dir)).filter((n) => n.includes('broken'))).toEqual([]); // no image, no temporary file
  }, 60_000);
});
