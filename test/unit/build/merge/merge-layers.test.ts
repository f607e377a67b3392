// mergeLayers into a recording sink: exactly which entries reach the image, with
// which attributes, for every flattening rule (whiteouts, opaque directories, type
// changes, directory attributes, duplicates, names, xattrs, special files), hard links
// within and across layers, and the errors of bad layers.
import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { SifError } from '../../../../src/errors.js';
import { mergeLayers, type MergeLayer, type MergeOptions, type MergeStats } from '../../../../src/build/merge/merge-layers.js';
import { expectSifError } from '../../image/support.js';
import { HAVE_ZSTD, RecordingSink, T, gzip, memLayer, tarball, zstd, zstdRows, type TarSpec } from './support.js';

const file = (name: string, data = name, extra: Partial<TarSpec> = {}): TarSpec => ({ name, data, ...extra });
const dir = (name: string, extra: Partial<TarSpec> = {}): TarSpec => ({ name, type: 'dir', ...extra });
const link = (name: string, target: string): TarSpec => ({ name, type: 'link', linkname: target });
const wh = (name: string): TarSpec => ({ name, data: '' });

type LayerSpec = (TarSpec | Buffer)[];
const digest = (i: number): string => `sha256:${String(i).repeat(64).slice(0, 64)}`;

/** Merges tar layers given bottom first; returns the recorded tree, warnings, stats, layers. */
async function merge(layers: LayerSpec[], opts: MergeOptions & { encode?: (tar: Buffer, i: number) => Buffer } = {}) {
  const sink = new RecordingSink();
  const warnings: string[] = [];
  const mls = layers.map((l, i) => memLayer(digest(i), (opts.encode ?? ((t) => t))(tarball(l), i), 1021));
  const stats = await mergeLayers(mls, sink, { warn: (m) => warnings.push(m), ...opts });
  return { tree: sink.tree(), warnings, stats, layers: mls, sink };
}

const F = (data: string, mode = '0644', owner = '0:0', at = 0): string => `file ${mode} ${owner} @${at} ${JSON.stringify(data)}`;
const D = (mode = '0755', owner = '0:0', at = 0): string => `dir ${mode} ${owner} @${at}`;
const IMPLIED = 'dir implied';

describe('mergeLayers: whiteouts and opaque directories', () => {
  it('a whiteout hides a lower file or directory tree; other lower entries stay', async () => {
    const { tree, stats } = await merge([
      [dir('./'), dir('etc'), file('etc/passwd', 'root'), file('etc/gone'), dir('var'), dir('var/lib'), file('var/lib/x'), file('keep')],
      [wh('etc/.wh.gone'), wh('.wh.var'), file('new')],
    ]);
    expect(tree).toEqual({ '.': D(), etc: D(), 'etc/passwd': F('root'), keep: F('keep'), new: F('new') });
    const want: MergeStats = { layers: 2, entries: 5, files: 3, bytes: 4 + 4 + 3, hidden: 4, replaced: 0 };
    expect(stats).toEqual(want);
  });

  it("a whiteout never hides its own layer's entry, before or after it", async () => {
    const { tree } = await merge([
      [file('a', 'old a'), file('b', 'old b'), file('c', 'old c')],
      [file('a', 'new a'), wh('.wh.a'), wh('.wh.b'), file('b', 'new b')],
    ]);
    expect(tree).toEqual({ '.': IMPLIED, a: F('new a'), b: F('new b'), c: F('old c') });
  });

  it.each([
    ['before', [dir('d', { mode: 0o700 }), wh('d/.wh..wh..opq'), file('d/new')]],
    ['after', [dir('d', { mode: 0o700 }), file('d/new'), wh('d/.wh..wh..opq')]],
  ])('an opaque marker (%s the new children) hides the lower contents, keeps its layer', async (_, upper) => {
    const { tree } = await merge([[dir('d'), file('d/old'), dir('d/sub'), file('d/sub/deep'), file('other')], upper]);
    expect(tree).toEqual({ '.': IMPLIED, d: D('0700'), 'd/new': F('d/new'), other: F('other') });
  });

  it('an opaque root hides every lower layer', async () => {
    const { tree } = await merge([[file('a')], [file('b')], [wh('.wh..wh..opq'), file('c')]]);
    expect(tree).toEqual({ '.': IMPLIED, c: F('c') });
  });

  it('a removed directory re-created above is fresh: no lower contents or attributes', async () => {
    const { tree } = await merge([[dir('d', { mode: 0o700, uid: 7 }), file('d/old')], [wh('.wh.d')], [file('d/new')]]);
    expect(tree).toEqual({ '.': IMPLIED, d: IMPLIED, 'd/new': F('d/new') });
  });

  it('AUFS leftovers (.wh..wh.* and what is below) are ignored; an empty whiteout name is warned about', async () => {
    const { tree, warnings } = await merge([[file('a')], [dir('.wh..wh.plnk'), file('.wh..wh.plnk/1234.5'), wh('.wh..wh.aufs'), wh('d/.wh..wh.x'), wh('x/.wh.')]]);
    expect(tree).toEqual({ '.': IMPLIED, a: F('a') });
    expect(warnings).toEqual([`layer ${digest(1)}: ignoring whiteout "x/.wh." names no entry`]);
  });
});

describe('mergeLayers: directories and type changes', () => {
  it('a directory takes the attributes of the highest layer with an entry for it', async () => {
    const { tree } = await merge([
      [dir('d', { mode: 0o700, uid: 1, gid: 1, mtime: 1_700_000_001 }), file('d/a'), dir('e', { mode: 0o711, uid: 3 })],
      [file('d/b'), file('e/x')], // d and e implied here: their lower attributes stay
      [dir('e', { mode: 0o750, uid: 2, gid: 2, mtime: 1_700_000_002 })],
    ]);
    expect(tree).toEqual({
      '.': IMPLIED, d: D('0700', '1:1', 1), 'd/a': F('d/a'), 'd/b': F('d/b'), e: D('0750', '2:2', 2), 'e/x': F('e/x'),
    });
  });

  it('children before their directory entry in one layer; the root entry', async () => {
    const { tree } = await merge([[file('a/b/c'), dir('a/b', { mode: 0o701 }), dir('a', { mode: 0o702 }), dir('.', { mode: 0o555, uid: 9 })]]);
    expect(tree).toEqual({ '.': D('0555', '9:0'), a: D('0702'), 'a/b': D('0701'), 'a/b/c': F('a/b/c') });
  });

  it('dir -> file -> dir, with and without an opaque marker: nothing of the first directory survives', async () => {
    for (const opaque of [[], [wh('d/.wh..wh..opq')]]) {
      const { tree } = await merge([[dir('d', { mode: 0o700 }), file('d/x')], [wh('.wh.d'), file('d', 'a file now')], [dir('d', { mode: 0o750 }), ...opaque, file('d/z')]]);
      expect(tree).toEqual({ '.': IMPLIED, d: D('0750'), 'd/z': F('d/z') });
    }
    // without the whiteout (not what Docker writes, but the file still replaces the directory)
    const { tree } = await merge([[dir('d', { mode: 0o700 }), file('d/x')], [file('d', 'a file now')], [file('d/z')]]);
    expect(tree).toEqual({ '.': IMPLIED, d: IMPLIED, 'd/z': F('d/z') });
  });

  it('file -> dir and symlink -> dir; dir -> symlink', async () => {
    const { tree } = await merge([
      [file('f'), { name: 's', type: 'symlink', linkname: 'f' }, dir('l'), file('l/inner')],
      [dir('f', { mode: 0o700 }), file('f/x'), dir('s'), file('s/y'), { name: 'l', type: 'symlink', linkname: '/tmp' }],
    ]);
    expect(tree).toEqual({ '.': IMPLIED, f: D('0700'), 'f/x': F('f/x'), s: D(), 's/y': F('s/y'), l: 'symlink 0777 0:0 @0 -> /tmp' });
  });

  it('an entry below a non-directory of its own layer is skipped with a warning', async () => {
    const { tree, warnings } = await merge([[file('f'), file('f/x')]]);
    expect(tree).toEqual({ '.': IMPLIED, f: F('f') });
    expect(warnings).toEqual([`layer ${digest(0)}: skipping "f/x": a parent is not a directory in this layer`]);
  });
});

describe('mergeLayers: a path twice in one layer, the last entry wins (as tar extraction)', () => {
  it('two directories: the later attributes, the children of both', async () => {
    const { tree, warnings, stats } = await merge([[dir('d', { mode: 0o700 }), file('d/a'), dir('d', { mode: 0o750, uid: 3 }), file('d/b')]]);
    expect(tree).toEqual({ '.': IMPLIED, d: D('0750', '3:0'), 'd/a': F('d/a'), 'd/b': F('d/b') });
    expect(warnings).toEqual([]);
    expect(stats.replaced).toBe(0);
  });

  it('a file twice: mode, owner, mtime, size and content of the later one', async () => {
    const { tree, warnings, stats, sink } = await merge([[file('f', 'first, longer', { mode: 0o600, uid: 1, mtime: T + 5 }), file('g'), file('f', 'second', { mode: 0o755, uid: 2, mtime: T + 9 })]]);
    expect(tree).toEqual({ '.': IMPLIED, f: F('second', '0755', '2:0', 9), g: F('g') });
    expect(warnings).toEqual([]);
    expect(stats.replaced).toBe(1);
    expect(sink.calls).toEqual(['addFile f', 'addFile g', 'remove f', 'addFile f']);
  });

  it('other types replace each other: symlink, fifo, device, file', async () => {
    const { tree } = await merge([[file('a'), { name: 'a', type: 'symlink', linkname: 'x' }, { name: 'b', type: 'symlink', linkname: 'y' },
      { name: 'b', type: 'fifo' }, { name: 'c', type: 'char', devmajor: 1, devminor: 3 }, file('c', 'now a file')]]);
    expect(tree).toEqual({ '.': IMPLIED, a: 'symlink 0777 0:0 @0 -> x', b: 'fifo 0644 0:0 @0', c: F('now a file') });
  });

  it('a file replaced by a directory: the directory, its children, and none of the lower layers below it', async () => {
    const { tree, warnings } = await merge([
      [dir('f'), file('f/lower')],
      [file('f', 'file first'), dir('f', { mode: 0o711 }), file('f/inner')],
    ]);
    expect(tree).toEqual({ '.': IMPLIED, f: D('0711'), 'f/inner': F('f/inner') });
    expect(warnings).toEqual([]);
  });

  it('a directory replaced by a file: what the layer put below it goes; entries below it later are skipped', async () => {
    const { tree, warnings, sink } = await merge([
      [dir('d'), file('d/lower'), file('keep')],
      [dir('d', { mode: 0o700 }), dir('d/sub'), file('d/sub/x'), file('d/y'), file('d', 'now a file'), file('d/late')],
    ]);
    expect(tree).toEqual({ '.': IMPLIED, d: F('now a file'), keep: F('keep') });
    expect(warnings).toEqual([`layer ${digest(1)}: skipping "d/late": a parent is not a directory in this layer`]);
    expect(sink.calls.slice(0, 4)).toEqual(['addFile d/sub/x', 'addFile d/y', 'remove d', 'addFile d']);
  });

  it('directory, file, directory: the last directory starts empty', async () => {
    const { tree } = await merge([[dir('d'), file('d/a'), file('d'), dir('d', { mode: 0o701 }), file('d/b')]]);
    expect(tree).toEqual({ '.': IMPLIED, d: D('0701'), 'd/b': F('d/b') });
  });

  it("a directory replaced under an upper layer's directory: the upper entries stay, the layer's own go", async () => {
    const { tree } = await merge([
      [dir('d', { mode: 0o700 }), file('d/x', 'lower x'), file('d/y'), file('d', 'replaced')],
      [file('d/x', 'upper x')],
    ]);
    // Bottom-up: d is a file after the lower layer; the upper layer makes it a directory again.
    expect(tree).toEqual({ '.': IMPLIED, d: IMPLIED, 'd/x': F('upper x') });
  });

  it('a hard link after the replacement names the last entry', async () => {
    const { tree } = await merge([[file('f', 'v1'), file('f', 'v2', { mode: 0o700 }), link('l', 'f')]]);
    expect(tree).toEqual({ '.': IMPLIED, f: `${F('v2', '0700')} =f`, l: `${F('v2', '0700')} =f` });
  });

  it('a hard link made before the replacement keeps the earlier inode, as tar leaves it', async () => {
    const { tree } = await merge([[file('f', 'v1'), link('l', 'f'), file('f', 'v2')]]);
    expect(tree).toEqual({ '.': IMPLIED, f: F('v2'), l: F('v1') });
  });

  it('a hard link entry replaced by a file, and a file by a hard link', async () => {
    const { tree } = await merge([[file('t', 'target'), link('a', 't'), file('a', 'own'), file('b', 'own b'), link('b', 't')]]);
    expect(tree).toEqual({ '.': IMPLIED, a: F('own'), b: `${F('target')} =b`, t: `${F('target')} =b` });
  });

  it("upper layers' links to a path the lower layer has twice name its last entry", async () => {
    const { tree } = await merge([
      [file('x', 'v1'), file('x', 'v2'), file('y', 'y1'), file('y', 'y2')],
      [link('u', 'x'), link('w', 'y'), wh('.wh.y')],
    ]);
    expect(tree).toEqual({ '.': IMPLIED, u: `${F('v2')} =u`, x: `${F('v2')} =u`, w: F('y2') });
  });

  it("an upper link to a path the lower layer turns into a directory is an error", async () => {
    await expectSifError(merge([[file('x'), dir('x')], [link('u', 'x')]]), 'SIF_E_BUILD_LAYER', 'hard link "u" points to "x", a directory');
  });
});

describe('mergeLayers: names', () => {
  const NON_UTF8 = Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]);
  const nonUtf8Key = NON_UTF8.toString('latin1');

  it('./ prefixes, absolute names, trailing and double slashes are one path', async () => {
    const { tree } = await merge([[dir('./usr/'), file('/usr/a', 'abs'), file('./usr//b', 'rel'), dir('/usr/lib//', { mode: 0o700 })]]);
    expect(tree).toEqual({ '.': IMPLIED, usr: D(), 'usr/a': F('abs'), 'usr/b': F('rel'), 'usr/lib': D('0700') });
  });

  it('long names in every encoding and non-UTF-8 bytes survive byte-exact', async () => {
    const longDir = `${'d'.repeat(120)}`;
    const { tree, sink } = await merge([[
      file(`${longDir}/${'p'.repeat(90)}`, 'prefix', { long: 'prefix' }),
      file(`gnu/${'g'.repeat(255)}`, 'gnu', { long: 'gnu' }),
      file(`pax/${'x'.repeat(255)}`, 'pax'),
      { name: Buffer.concat([Buffer.from('raw/'), NON_UTF8]), data: 'ustar field' },
      { name: Buffer.concat([Buffer.from(`${'q'.repeat(120)}/`), NON_UTF8]), data: 'pax path' },
      { name: Buffer.concat([Buffer.from(`${'k'.repeat(120)}/`), NON_UTF8]), data: 'gnu name', long: 'gnu' },
      { name: 'sym', type: 'symlink', linkname: Buffer.concat([Buffer.from('t'.repeat(300) + '/'), NON_UTF8]) },
      { name: Buffer.concat([Buffer.from('hl-'), NON_UTF8]), type: 'link', linkname: Buffer.concat([Buffer.from('raw/'), NON_UTF8]) },
    ]]);
    expect(tree[`${longDir}/${'p'.repeat(90)}`]).toBe(F('prefix'));
    expect(tree[`gnu/${'g'.repeat(255)}`]).toBe(F('gnu'));
    expect(tree[`pax/${'x'.repeat(255)}`]).toBe(F('pax'));
    expect(tree[`raw/${nonUtf8Key}`]).toBe(`${F('ustar field')} =hl-${nonUtf8Key}`);
    expect(tree[`hl-${nonUtf8Key}`]).toBe(`${F('ustar field')} =hl-${nonUtf8Key}`);
    expect(tree[`${'q'.repeat(120)}/${nonUtf8Key}`]).toBe(F('pax path'));
    expect(tree[`${'k'.repeat(120)}/${nonUtf8Key}`]).toBe(F('gnu name'));
    expect(tree.sym).toBe(`symlink 0777 0:0 @0 -> ${'t'.repeat(300)}/${nonUtf8Key}`);
    expect(sink.calls).toContain(`addFile raw/${nonUtf8Key}`);
  });

  it("refuses '..' in names and hard link targets, naming the layer and the entry", async () => {
    await expectSifError(merge([[file('a')], [file('x/../../etc/passwd')]]), 'SIF_E_BUILD_LAYER', `layer ${digest(1)}: the name "x/../../etc/passwd" contains a '..' component`);
    await expectSifError(merge([[file('a'), link('b', '../a')]]), 'SIF_E_BUILD_LAYER', `layer ${digest(0)}: the name "../a" contains a '..' component`);
  });
});

describe('mergeLayers: attributes and special files', () => {
  const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex');

  it('modes with setuid, setgid and sticky bits, owners and mtimes as stored', async () => {
    const { tree } = await merge([[
      file('su', 'x', { mode: 0o4755 }), file('sg', 'x', { mode: 0o2711, gid: 42 }), dir('tmp', { mode: 0o1777 }),
      file('big-ids', 'x', { pax: { uid: '4294967294', gid: '3000000000' } }),
      file('old', 'x', { mtime: 0 }), file('neg', 'x', { pax: { mtime: '-100.5' } }), file('frac', 'x', { pax: { mtime: `${1_700_000_007}.9` } }),
      { name: 'sym', type: 'symlink', linkname: 'su', mode: 0o644, uid: 5, gid: 6 },
    ]]);
    expect(tree).toMatchObject({
      su: F('x', '4755'), sg: F('x', '2711', '0:42'), tmp: D('1777'),
      'big-ids': F('x', '0644', '4294967294:3000000000'), old: F('x', '0644', '0:0', -1_700_000_000),
      neg: F('x', '0644', '0:0', -1_700_000_000), frac: F('x', '0644', '0:0', 7), sym: 'symlink 0777 5:6 @0 -> su',
    });
  });

  it('xattrs: user., trusted. and security. kept byte-exact; security.selinux and other namespaces dropped with one warning each', async () => {
    const { tree, warnings } = await merge([[
      file('ping', 'p', { mode: 0o755, xattrs: { 'security.capability': CAP, 'user.comment': 'hi', 'trusted.x': Buffer.from([0, 0xff]) } }),
      dir('d', { xattrs: { 'user.dir': 'yes', 'security.selinux': 'system_u:object_r:bin_t:s0' } }),
      file('acl', 'a', { xattrs: { 'system.posix_acl_access': Buffer.from([2, 0, 0, 0]) } }),
      file('acl2', 'a', { xattrs: { 'system.posix_acl_access': Buffer.from([2, 0, 0, 0]) } }),
    ]]);
    expect(tree.ping).toBe(`file 0755 0:0 @0 security.capability=${CAP.toString('hex')} trusted.x=00ff user.comment=6869 "p"`);
    expect(tree.d).toBe(`dir 0755 0:0 @0 user.dir=${Buffer.from('yes').toString('hex')}`);
    expect(tree.acl).toBe(F('a'));
    expect(warnings).toEqual([
      `layer ${digest(0)}: dropping the xattr security.selinux (first on "d"): it is host policy, not image content`,
      `layer ${digest(0)}: dropping the xattr system.posix_acl_access (first on "acl"): squashfs stores only user., trusted. and security. xattrs`,
    ]);
  });

  it('device nodes and FIFOs are kept as inodes', async () => {
    const { tree } = await merge([[
      { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'dev/sda1', type: 'block', mode: 0o660, gid: 6, devmajor: 8, devminor: 1 },
      { name: 'dev/wide', type: 'char', mode: 0o600, devmajor: 511, devminor: 70000 },
      { name: 'run/fifo', type: 'fifo', mode: 0o620 },
    ]]);
    expect(tree).toMatchObject({
      'dev/null': 'char 0666 0:0 @0 1,3', 'dev/sda1': 'block 0660 0:6 @0 8,1', 'dev/wide': 'char 0600 0:0 @0 511,70000', 'run/fifo': 'fifo 0620 0:0 @0',
    });
  });

  it('refuses what squashfs cannot store: a device number too large, an empty symlink target', async () => {
    await expectSifError(merge([[{ name: 'dev/x', type: 'block', devmajor: 4096, devminor: 1 }]]), 'SIF_E_BUILD_LAYER', `layer ${digest(0)}: the device "dev/x" has the number 4096:1`);
    await expectSifError(merge([[{ name: 'sym', type: 'symlink', linkname: '' }]]), 'SIF_E_BUILD_LAYER', 'the symlink "sym" has a target of 0 bytes');
  });

  it('skips unknown entry types with a warning; a non-directory root entry too', async () => {
    const { tree, warnings } = await merge([[{ name: 'label', flag: 'V', data: 'vol' }, file('./', 'x', { flag: '0' }), file('a')]]);
    expect(tree).toEqual({ '.': IMPLIED, a: F('a') });
    expect(warnings).toEqual([
      `layer ${digest(0)}: skipping "label": unknown tar entry type "V"`,
      `layer ${digest(0)}: ignoring a file entry for the root directory`,
    ]);
  });
});

describe('mergeLayers: hard links', () => {
  it('within a layer, chains included: one inode', async () => {
    const { tree, sink } = await merge([[file('a', 'data', { mode: 0o755 }), link('b', 'a'), link('c', './b'), link('d', '/a')]]);
    const same = `${F('data', '0755')} =a`;
    expect(tree).toEqual({ '.': IMPLIED, a: same, b: same, c: same, d: same });
    expect(sink.calls).toEqual(['addFile a', 'addHardlink(a) b', 'addHardlink(a) c', 'addHardlink(a) d']);
  });

  it('to a target an upper layer whited out: the content is kept under the link, from a second read', async () => {
    const { tree, layers } = await merge([
      [file('t', 'target data', { mode: 0o600, uid: 3 }), link('l1', 't'), link('l2', 't'), { name: 's', type: 'symlink', linkname: 'x' }, link('ls', 's'),
        { name: 'n', type: 'char', devmajor: 1, devminor: 3 }, link('ln', 'n'), file('other')],
      [wh('.wh.t'), wh('.wh.s'), wh('.wh.n')],
    ]);
    expect(tree).toEqual({
      '.': IMPLIED, l1: `${F('target data', '0600', '3:0')} =l1`, l2: `${F('target data', '0600', '3:0')} =l1`,
      ls: 'symlink 0777 0:0 @0 -> x', ln: 'char 0644 0:0 @0 1,3', other: F('other'),
    });
    expect(layers.map((l) => l.opens)).toEqual([2, 1]);
  });

  it('to a target an upper layer replaced: the link keeps the old content', async () => {
    const { tree } = await merge([[file('t', 'old'), link('l', 't')], [file('t', 'new')]]);
    expect(tree).toEqual({ '.': IMPLIED, t: F('new'), l: F('old') });
  });

  it('hidden link named by a visible one', async () => {
    const { tree } = await merge([[file('t', 'data'), link('h', 't'), link('v', 'h')], [wh('.wh.h')]]);
    expect(tree).toEqual({ '.': IMPLIED, t: `${F('data')} =t`, v: `${F('data')} =t` });
  });

  it('to a file of a lower layer: resolved when the merge reaches it', async () => {
    const { tree, sink } = await merge([[file('bin/t', 'lower'), link('bin/u', 'bin/t')], [link('bin/l', 'bin/u'), link('bin/m', 'bin/l')]]);
    const same = `${F('lower')} =bin/l`;
    expect(tree).toEqual({ '.': IMPLIED, bin: IMPLIED, 'bin/t': same, 'bin/u': same, 'bin/l': same, 'bin/m': same });
    expect(sink.calls).toEqual(['addFile bin/t', 'addHardlink(bin/t) bin/u', 'addHardlink(bin/t) bin/l', 'addHardlink(bin/t) bin/m']);
  });

  it('to a lower file that a layer in between replaced: the nearest one below the link', async () => {
    const { tree } = await merge([[file('t', 'v0')], [file('t', 'v1')], [link('l', 't')]]);
    expect(tree).toEqual({ '.': IMPLIED, t: `${F('v1')} =l`, l: `${F('v1')} =l` });
  });

  it('to a lower file whited out above the link: the content goes under the link', async () => {
    const { tree } = await merge([[dir('d', { mode: 0o700 }), file('d/t', 'lower', { mode: 0o751 })], [link('l', 'd/t'), link('l2', 'l')], [wh('.wh.d')]]);
    expect(tree).toEqual({ '.': IMPLIED, l: `${F('lower', '0751')} =l`, l2: `${F('lower', '0751')} =l` });
  });

  it('through a link of a middle layer to the bottom one, the middle names hidden', async () => {
    const { tree } = await merge([[file('t', 'bottom')], [link('m', 't')], [link('l', 'm')], [wh('.wh.m'), wh('.wh.t')]]);
    expect(tree).toEqual({ '.': IMPLIED, l: F('bottom') });
  });

  it('several upper layers naming one lower inode share it', async () => {
    const { tree } = await merge([[file('t', 'bottom')], [link('a', 't')], [link('b', 't')]]);
    const same = `${F('bottom')} =a`;
    expect(tree).toEqual({ '.': IMPLIED, t: same, a: same, b: same });
  });

  it('a link before its target in the same layer names the lower file (as umoci does)', async () => {
    const { tree } = await merge([[file('t', 'lower')], [link('l', 't'), file('t', 'upper')]]);
    expect(tree).toEqual({ '.': IMPLIED, t: F('upper'), l: F('lower') });
  });

  it('errors: no target, a target removed by a layer between, a directory', async () => {
    await expectSifError(merge([[file('a')], [link('l', 'missing')]]), 'SIF_E_BUILD_LAYER',
      `layer ${digest(1)}: hard link "l" points to "missing", but no layer below it has it`);
    await expectSifError(merge([[file('t')], [wh('.wh.t')], [link('l', 't')]]), 'SIF_E_BUILD_LAYER',
      `layer ${digest(2)}: hard link "l" points to "t", but layer ${digest(1)} removes it`);
    await expectSifError(merge([[dir('d'), file('d/t')], [wh('d/.wh..wh..opq')], [link('l', 'd/t')]]), 'SIF_E_BUILD_LAYER', `layer ${digest(1)} removes it`);
    await expectSifError(merge([[dir('d'), file('d/t')], [file('d', 'file now')], [link('l', 'd/t')]]), 'SIF_E_BUILD_LAYER', `layer ${digest(1)} removes it`);
    await expectSifError(merge([[dir('d'), link('l', 'd')]]), 'SIF_E_BUILD_LAYER', `layer ${digest(0)}: hard link "l" points to the directory "d"`);
    await expectSifError(merge([[dir('d')], [link('l', 'd')]]), 'SIF_E_BUILD_LAYER', `layer ${digest(1)}: hard link "l" points to "d", a directory in layer ${digest(0)}`);
  });

  it('a hidden link with no target is no error', async () => {
    const { tree } = await merge([[link('l', 'missing'), file('a')], [wh('.wh.l')]]);
    expect(tree).toEqual({ '.': IMPLIED, a: F('a') });
  });
});

describe('mergeLayers: layer streams', () => {
  const layers: LayerSpec[] = [[dir('./'), file('a', 'x'.repeat(3 << 20)), file('b', 'bottom')], [file('c', 'middle')], [wh('.wh.b'), file('d', 'top')]];

  (HAVE_ZSTD ? it : it.skip)('gzip, zstd and plain layers, told apart by their bytes, give the same tree (needs the zstd command)', async () => {
    const plain = await merge(layers);
    const mixed = await merge(layers, { encode: (t, i) => [gzip, zstd, (x: Buffer) => x][i]!(t) });
    expect(mixed.tree).toEqual(plain.tree);
    expect(Object.keys(plain.tree)).toEqual(['.', 'a', 'c', 'd']);
    expect(plain.tree.a).toBe(F('x'.repeat(3 << 20)));
  });

  it('reports progress per layer (index in the manifest order) in stored bytes', async () => {
    const seen: [number, number][] = [];
    const stored = layers.map((l) => gzip(tarball(l)));
    await merge(layers, { encode: (_t, i) => stored[i]!, onProgress: (i, n) => seen.push([i, n]) });
    expect([...new Set(seen.map(([i]) => i))]).toEqual([2, 1, 0]);
    for (const i of [0, 1, 2]) expect(seen.filter(([j]) => j === i).at(-1)?.[1]).toBe(stored[i]!.length);
  });

  const broken = (data: Buffer): MergeLayer[] => [memLayer(digest(0), tarball([file('ok')])), memLayer(digest(1), data)];
  const big = tarball([file('big', Buffer.alloc(5 << 20, 7).toString('latin1')), file('after')]);

  it.each([
    ['truncated gzip', gzip(big).subarray(0, 3000), 'the gzip data is truncated'],
    ...zstdRows((): [string, Buffer, string][] => [['truncated zstd', zstd(big).subarray(0, 300), 'the zstd data is truncated']]),
    ['a truncated tar', big.subarray(0, 1 << 20), 'the data ends inside the entry "big"'],
    ['garbage', Buffer.from('<html>502 Bad Gateway</html>'.repeat(30)), 'it is not a gzip, zstd or tar stream (it starts with 3c68746d6c3e3530)'],
    ['a corrupt header', Buffer.concat([tarball([file('a')], { end: false }), Buffer.alloc(512, 0x41)]), 'not a valid tar header at byte 1024'],
  ])('%s: SIF_E_BUILD_LAYER naming the layer and the problem', async (_, data, message) => {
    const sink = new RecordingSink();
    await expectSifError(mergeLayers(broken(data), sink), 'SIF_E_BUILD_LAYER', `layer ${digest(1)}: ${message}`);
  });

  it('a source failing mid-way (in a big file, a small file, a header): its SifError unchanged, other errors wrapped', async () => {
    const failing = (error: Error, data = gzip(big).subarray(0, 2000)): MergeLayer => ({
      name: digest(1),
      open: async () => Readable.from((async function* () {
        yield data;
        throw error;
      })(), { objectMode: false }),
    });
    const digestError = new SifError('SIF_E_BUILD_DIGEST', 'layer sha256:1111: digest mismatch');
    const small = tarball([file('small', 'y'.repeat(100_000)), file('next')]);
    for (const cut of [gzip(big).subarray(0, 2000), small.subarray(0, 50_000), small.subarray(0, 512 + 100_352 + 100)])
      await expect(mergeLayers([failing(digestError, cut)], new RecordingSink())).rejects.toBe(digestError);
    const e = await expectSifError(mergeLayers([failing(new Error('ECONNRESET'))], new RecordingSink()), 'SIF_E_BUILD_LAYER', `layer ${digest(1)}: reading it failed: ECONNRESET`);
    expect((e.cause as Error).message).toBe('ECONNRESET');
    await expectSifError(mergeLayers([{ name: 'x', open: () => Promise.reject(new Error('ENOENT: blob')) }], new RecordingSink()), 'SIF_E_BUILD_LAYER', 'layer x: reading it failed: ENOENT: blob');
  });

  it('a sink failure comes through unchanged', async () => {
    const sink = new RecordingSink();
    const boom = new SifError('SIF_E_IMAGE_WRITE', 'disk full');
    sink.addFile = () => Promise.reject(boom);
    await expect(mergeLayers([memLayer(digest(0), tarball([file('a')]))], sink)).rejects.toBe(boom);
  });

  it('an abort stops a stalled layer: SIF_E_BUILD_INTERRUPTED, no hang', async () => {
    const stalled: MergeLayer = {
      name: digest(0),
      open: async () => new Readable({ read() { /* never any data */ } }),
    };
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expectSifError(mergeLayers([stalled], new RecordingSink(), { signal: ac.signal }), 'SIF_E_BUILD_INTERRUPTED', 'interrupted');
    const never: MergeLayer = { name: digest(0), open: () => new Promise(() => undefined) }; // a download that never starts
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 50);
    await expectSifError(mergeLayers([never], new RecordingSink(), { signal: ac2.signal }), 'SIF_E_BUILD_INTERRUPTED');
    const done = new AbortController();
    done.abort();
    await expectSifError(mergeLayers([memLayer(digest(0), tarball([file('a')]))], new RecordingSink(), { signal: done.signal }), 'SIF_E_BUILD_INTERRUPTED');
  });
});
