// The image's FUSE mount lets the kernel cache everything for the life of the mount:
// names (found and missing), attributes, symlink targets, file pages across opens and
// directory listings, with no open or opendir asked of sif at all. This checks that a
// container which lives long enough for those caches to be used (each check runs
// twice in one sif exec) sees exactly what the kernel's own squashfs driver shows of
// the same image (loop-mounted here as root), and what unsquashfs lists: contents,
// sizes, modes, owners (every file the caller's, by design), symlink targets, hard
// links, extended attributes, missing paths, a directory of thousands of entries
// (many readdir buffers); and that --writable-tmpfs still sees its own writes. The
// dumps run with the read-ahead (the default), --store-ahead, and neither. Files a
// reader takes in order are read by the read-ahead process before it asks
// (native/starter/dir-ahead.c), also in a directory never listed, and so is the rest
// of a large file a reader goes through in order (stream-ahead.c); with
// --store-ahead, those of a listing are pushed into the page cache instead
// (store-ahead.c), whole and zero past their end; with --no-read-ahead, nothing is.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { openFiles, until } from '../support/node-share.js';
import { makeBusyboxRootfs } from '../support/squashfs.js';
import { REPO_ROOT, requireHost, sifAsUser, spawnAsUser, userId } from '../support/unprivileged.js';

let dir: string;
let image: string;
let mnt: string;
let kernelDump: string;
let kernelOwners: Map<string, string>;
const MANY = 5000;
const WALK = 200;
const SPREAD = 40;
const STREAM_MIB = 4;
const LINKED = 60;
// The kernel's FUSE tracepoints (6.x): the only view of what sif's server is asked
// for, symlink targets included, which nothing in user space shows cached.
const TRACING = '/sys/kernel/tracing';
const HAVE_FUSE_TRACE = existsSync(join(TRACING, 'events', 'fuse', 'fuse_request_send'));
// Paths under /data to look up before and after the tree is read: missing ones (a
// cached miss must stay a miss and hide nothing), a name under a file, present ones.
const PROBES = ['/nope', '/many/zzz-missing', '/many/n-1-', '/small/child', '/links/dangling', `/many/${manyName(MANY - 1)}`];

function walkName(i: number): string {
  return `f${String(i).padStart(3, '0')}`;
}

/** Contents no compressor shrinks to nothing, of a size that ends inside a page. */
function walkData(i: number): Buffer {
  const b = Buffer.alloc(5000 + i * 37);
  for (let j = 0; j < b.length; j++) b[j] = ((j + i) * 2654435761) >>> 24;
  return b;
}

function manyName(i: number): string {
  // Names of 3 to 120 characters: entries of many sizes, across readdir buffers.
  return `n-${i}-${'x'.repeat((i * 7) % 118)}`;
}

/** The dump without uid:gid (a container shows every file as the caller's). */
function withoutOwners(dump: string): string {
  return dump.replace(/^(\S+ \d+ \d+ \d+) \d+:\d+/gm, '$1');
}

beforeAll(async () => {
  requireHost();
  dir = mkdtempSync(join(tmpdir(), 'sif-read-cache-'));
  chmodSync(dir, 0o755);
  const root = join(dir, 'root');
  await makeBusyboxRootfs(root);
  for (const tool of ['tree-dump', 'page-cache']) {
    await execa('cc', ['-std=gnu11', '-O1', '-Wall', '-Werror', '-static', '-o', join(root, 'bin', tool),
      join(REPO_ROOT, 'test', 'native', `${tool}.c`)]);
  }
  const data = join(root, 'data');
  mkdirSync(join(data, 'many'), { recursive: true });
  mkdirSync(join(data, 'links'));
  mkdirSync(join(data, 'deep', 'a', 'b', 'c'), { recursive: true });
  mkdirSync(join(data, 'empty-dir'));
  writeFileSync(join(data, 'small'), 'hello\n');
  writeFileSync(join(data, 'empty'), '');
  writeFileSync(join(data, 'private'), 'mine\n', { mode: 0o600 });
  writeFileSync(join(data, 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  writeFileSync(join(data, 'owned'), 'someone else\n');
  chownSync(join(data, 'owned'), 1234, 5678);
  // Full blocks and a tail in a fragment; a hole; a few small files sharing a fragment.
  const big = Buffer.alloc(700_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  writeFileSync(join(data, 'big'), big);
  writeFileSync(join(data, 'sparse'), Buffer.concat([Buffer.alloc(300_000), Buffer.from('end')]));
  const stream = Buffer.alloc(STREAM_MIB << 20);
  for (let i = 0; i < stream.length; i++) stream[i] = Math.imul(i, 2654435761) >>> 24;
  writeFileSync(join(data, 'stream'), stream);
  for (let i = 0; i < 5; i++) writeFileSync(join(data, 'deep', 'a', `f${i}`), `fragment ${i}\n`.repeat(i * 10));
  for (let i = 0; i < MANY; i++) writeFileSync(join(data, 'many', manyName(i)), `${i}\n`);
  mkdirSync(join(data, 'walk'));
  for (let i = 0; i < WALK; i++) writeFileSync(join(data, 'walk', walkName(i)), walkData(i));
  // A depth-first walk's jump: files of 80-100 kB (a first window holds ~20), a
  // subdirectory between the a- and c- files, whose listing comes after theirs.
  mkdirSync(join(data, 'tree', 'b-sub'), { recursive: true });
  for (let i = 0; i < 50; i++) {
    const file = Buffer.concat(Array.from({ length: 15 }, (_, k) => walkData(i + k))).subarray(0, 100_000);
    for (const side of ['a', 'c']) writeFileSync(join(data, 'tree', `${side}${String(i).padStart(3, '0')}`), file);
    writeFileSync(join(data, 'tree', 'b-sub', `x${String(i).padStart(3, '0')}`), file);
  }
  // Files each followed by a symlink to it, in listing order ("a000" < "a000.l" < "a001").
  mkdirSync(join(data, 'linked'));
  for (let i = 0; i < LINKED; i++) {
    writeFileSync(join(data, 'linked', walkName(i)), walkData(i));
    symlinkSync(walkName(i), join(data, 'linked', `${walkName(i)}.l`));
  }
  // One file per directory: a walk whose order only the listings give.
  for (let i = 0; i < SPREAD; i++) {
    mkdirSync(join(data, 'spread', walkName(i)), { recursive: true });
    writeFileSync(join(data, 'spread', walkName(i), 'f'), walkData(i));
  }
  symlinkSync('/data/small', join(data, 'links', 'absolute'));
  symlinkSync('../small', join(data, 'links', 'relative'));
  symlinkSync('nowhere', join(data, 'links', 'dangling'));
  symlinkSync('t'.repeat(1000), join(data, 'links', 'long'));
  symlinkSync('../deep', join(data, 'links', 'to-dir'));
  linkSync(join(data, 'big'), join(data, 'hard-big'));
  linkSync(join(data, 'big'), join(data, 'deep', 'a', 'b', 'hard-big'));
  await execa('setfattr', ['-n', 'user.small', '-v', 'one', join(data, 'small')]);
  await execa('setfattr', ['-n', 'user.long', '-v', `0x${'ab'.repeat(2000)}`, join(data, 'big')]);
  await execa('setfattr', ['-n', 'user.dir', '-v', 'on a directory', join(data, 'deep')]);
  image = join(dir, 'image.sqfs');
  // zstd, as sif builds; the real mksquashfs keeps owners, modes and xattrs.
  await execa('mksquashfs', [root, image, '-noappend', '-quiet', '-comp', 'zstd']);
  chmodSync(image, 0o644);
  mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  await execa('mount', ['-t', 'squashfs', '-o', 'loop,ro', image, mnt]);
  kernelDump = execFileSync(join(root, 'bin', 'tree-dump'), ['--owners', join(mnt, 'data'), ...PROBES], { encoding: 'utf8' });
  kernelOwners = new Map([...kernelDump.matchAll(/^(\/\S*) \d+ \d+ \d+ (\d+:\d+)/gm)].map((m) => [m[1]!, m[2]!]));
}, 180_000);

afterAll(async () => {
  if (mnt) await execa('umount', [mnt], { reject: false });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the image read through sif, its caches in use', () => {
  it.each([[''], ['--store-ahead'], ['--no-read-ahead']])('shows what the kernel squashfs shows, twice in one container %s', async (option) => {
    const dump = `tree-dump /data ${PROBES.join(' ')}`;
    const r = await sifAsUser(['exec', ...(option ? [option] : []), image, 'sh', '-c', `${dump} && echo --- && ${dump}`], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const [first, second] = r.stdout.split('---\n');
    // Sanity: the dump covers what was put in the image.
    expect(kernelDump).toContain(`/many 040755`);
    expect(kernelDump).toMatch(new RegExp(`^/many 040755 \\d+ 2 0:0 entries=${MANY}$`, 'm'));
    expect(kernelDump).toMatch(/^probe \/nope missing$/m);
    expect(kernelDump).toMatch(/^\/hard-big 100644 700000 3 0:0 data=\w+ same-as=\/big xattr:user\.long=\w+$/m);
    expect(first).toBe(withoutOwners(kernelDump));
    expect(second).toBe(withoutOwners(kernelDump));
  }, 180_000);

  it.each([[''], ['--store-ahead'], ['--no-read-ahead']])('shows the same to two readers at once (threads sharing decompressed blocks) %s', async (option) => {
    const dump = `tree-dump /data ${PROBES.join(' ')}`;
    const script = `${dump} >/tmp/one & ${dump} >/tmp/two; wait; cat /tmp/one; echo ---; cat /tmp/two`;
    const r = await sifAsUser(['exec', '--contain', ...(option ? [option] : []), image, 'sh', '-c', script], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const [one, two] = r.stdout.split('---\n');
    expect(one).toBe(withoutOwners(kernelDump));
    expect(two).toBe(withoutOwners(kernelDump));
  }, 180_000);

  it('shows every file as the caller\'s, and the kernel shows the image\'s owners as unsquashfs lists them', async () => {
    const r = await sifAsUser(['exec', image, 'tree-dump', '--owners', '/data']);
    expect(r.exitCode).toBe(0);
    const { uid, gid } = userId();
    const owners = new Set([...r.stdout.matchAll(/^\/\S* \d+ \d+ \d+ (\d+:\d+)/gm)].map((m) => m[1]));
    expect([...owners]).toEqual([`${uid}:${gid}`]);
    const listed = await unsquashfsListing();
    expect(listed.get('/owned')?.owner).toBe('1234/5678');
    for (const [path, entry] of listed) expect([path, kernelOwners.get(path)?.replace(':', '/')]).toEqual([path, entry.owner]);
  });

  it('agrees with unsquashfs -lln on names, types and modes, sizes and link targets', async () => {
    const r = await sifAsUser(['exec', image, 'tree-dump', '/data']);
    expect(r.exitCode).toBe(0);
    const seen = new Map<string, string>();
    for (const line of r.stdout.trim().split('\n')) {
      const m = /^(\/\S*) (\d+) (\d+) \d+(?: -> (.*))?/.exec(line.replace(/ (same-as|xattr:|entries=|data=)\S*/g, ''));
      if (m) seen.set(m[1]!, `${modeString(parseInt(m[2]!, 8))} ${isDirMode(m[2]!) ? '-' : m[3]} ${m[4] ?? ''}`);
    }
    const listed = await unsquashfsListing();
    const expected = new Map([...listed].map(([p, e]) => [p, `${e.mode} ${e.mode.startsWith('d') ? '-' : e.size} ${e.target}`]));
    expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(expected));
    expect(listed.size).toBeGreaterThan(MANY);
  });

  const walkTarget = `/data/walk/${walkName(150)}`;
  const walkInOrder = Array.from({ length: 10 }, (_, i) => `cat /data/walk/${walkName(i)} >/dev/null`).join('; ');

  it('with --store-ahead, stores the files after those a reader takes in listing order, whole and zero past their end', async () => {
    const r = await sifAsUser(['exec', '--store-ahead', image, 'sh', '-c', `ls /data/walk >/dev/null; ${walkInOrder}; page-cache ${walkTarget} 5000; md5sum ${walkTarget}`]);
    expect(r.stderr).toBe('');
    const md5 = createHash('md5').update(walkData(150)).digest('hex');
    expect(r.stdout).toBe(`cached\ntail-zero\n${md5}  ${walkTarget}\n`);
  });

  it('with --store-ahead, stores nothing for a listing and one read (the check above can fail)', async () => {
    const r = await sifAsUser(['exec', '--store-ahead', image, 'sh', '-c', `ls /data/walk >/dev/null; cat /data/walk/${walkName(3)} >/dev/null; page-cache ${walkTarget} 300`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('not-cached\ntail-zero\n');
  });

  it('with --store-ahead, stores a parent directory\'s rest after a walk comes back to it from a subdirectory', async () => {
    const read = (dir: string, prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => `cat ${dir}/${prefix}${String(i).padStart(3, '0')} >/dev/null`).join('; ');
    const walk = [
      'ls /data/tree >/dev/null', read('/data/tree', 'a', 10),
      'ls /data/tree/b-sub >/dev/null', read('/data/tree/b-sub', 'x', 10),
      read('/data/tree', 'c', 2), 'page-cache /data/tree/c010 5000',
    ].join('; ');
    const r = await sifAsUser(['exec', '--store-ahead', image, 'sh', '-c', walk]);
    expect(r.stderr).toBe('');
    // Only a window started from c001 reaches c010: the first one, from a001, ended
    // about a021, and the a- files' reads stopped at a009.
    expect(r.stdout).toBe('cached\ntail-zero\n');
  });

  it("holds the connection's abort file with --store-ahead (to end a store's wait on error or crash), not without", async () => {
    const abortFiles = async (options: string[]) => {
      const run = spawnAsUser(['exec', ...options, image, 'sh', '-c', 'echo $PPID; sleep 1']);
      let out = '';
      run.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      await until("the starter's pid", () => out.includes('\n'), 5_000);
      const links = openFiles(out.split('\n')[0]!);
      await run;
      return links.filter((l) => /^\/sys\/fs\/fuse\/connections\/\d+\/abort$/.test(l)).length;
    };
    expect(await abortFiles(['--store-ahead'])).toBe(1);
    expect(await abortFiles([])).toBe(0);
  }, 30_000);

  it('without --store-ahead, has the read-ahead process read the same files ahead of the walk', async () => {
    const r = await sifAsUser(['exec', image, 'sh', '-c', `ls /data/walk >/dev/null; ${walkInOrder}; page-cache ${walkTarget} 5000; md5sum ${walkTarget}`]);
    expect(r.stderr).toBe('');
    const md5 = createHash('md5').update(walkData(150)).digest('hex');
    expect(r.stdout).toBe(`cached\ntail-zero\n${md5}  ${walkTarget}\n`);
  });

  it('reads ahead the files of a directory never listed that a reader takes by name in order (Python\'s __pycache__)', async () => {
    // In the first window after f009 (f010-f143; f087 is left for the reader).
    const r = await sifAsUser(['exec', image, 'sh', '-c', `${walkInOrder}; page-cache /data/walk/${walkName(120)} 5000`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('cached\ntail-zero\n');
  });

  it('reads ahead a window, not on through the directory by its own reads', async () => {
    // The first window after f009 holds 1 MiB (f010-f143) and leaves f087 for the
    // reader's miss: f195 is past it, unless the read-ahead's own reads moved it on.
    const r = await sifAsUser(['exec', image, 'sh', '-c', `${walkInOrder}; page-cache /data/walk/${walkName(100)} 5000; page-cache /data/walk/${walkName(195)} 1000`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('cached\ntail-zero\nnot-cached\ntail-zero\n');
  });

  it('reads ahead across directories, in the order their listings gave the files', async () => {
    const walk = Array.from({ length: 10 }, (_, i) => `cat /data/spread/${walkName(i)}/f >/dev/null`).join('; ');
    const target = `/data/spread/${walkName(30)}/f`;
    const r = await sifAsUser(['exec', image, 'sh', '-c', `find /data/spread >/dev/null; ${walk}; page-cache ${target} 5000`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('cached\ntail-zero\n');
  });

  // The kernel reads ahead 128 KiB of a FUSE file at most: after the first MiB, bytes
  // 1.5 to 1.75 MiB are cached only if sif's read-ahead read them.
  const streamFirstMiB = 'busybox dd if=/data/stream of=/dev/null bs=64k count=16 2>/dev/null';
  const streamLater = `page-cache /data/stream 5000 ${1.5 * 2 ** 20} ${1.75 * 2 ** 20}`;

  it('reads ahead the rest of a large file that a reader goes through in order, in windows', async () => {
    const r = await sifAsUser(['exec', image, 'sh', '-c', `${streamFirstMiB}; ${streamLater}; page-cache /data/stream 300`]);
    expect(r.stderr).toBe('');
    // Not the whole file: the first window after the first MiB ends short of 4 MiB.
    expect(r.stdout).toBe('cached\ntail-zero\nnot-cached\ntail-zero\n');
  });

  it('reads nothing ahead in a large file after one read, or with --no-read-ahead (the check above can fail)', async () => {
    const one = await sifAsUser(['exec', image, 'sh', '-c', `busybox dd if=/data/stream of=/dev/null bs=4k count=1 2>/dev/null; ${streamLater.replace('5000', '300')}`]);
    expect(one.stderr).toBe('');
    expect(one.stdout).toBe('not-cached\ntail-zero\n');
    const off = await sifAsUser(['exec', '--no-read-ahead', image, 'sh', '-c', `${streamFirstMiB}; ${streamLater.replace('5000', '300')}`]);
    expect(off.stderr).toBe('');
    expect(off.stdout).toBe('not-cached\ntail-zero\n');
  });

  (HAVE_FUSE_TRACE ? it : it.skip)('reads ahead the targets of the symlinks among files a walk takes in listing order (needs FUSE tracepoints)', async () => {
    const walk = Array.from({ length: LINKED }, (_, i) => `cat /data/linked/${walkName(i)} >/dev/null; readlink /data/linked/${walkName(i)}.l >/dev/null`).join('; ');
    const readlinks = async (options: string[]) => {
      const sent = await fuseRequests(async () => {
        const r = await sifAsUser(['exec', ...options, image, 'sh', '-c', `find /data/linked >/dev/null; ${walk}`]);
        expect(r.stderr).toBe('');
      });
      const count = (comm: string) => sent.filter((q) => q.comm === comm && q.op === 'FUSE_READLINK').length;
      return { reader: count('readlink'), ahead: count('sif-prefetch') };
    };
    // Without the read-ahead, each readlink asks: the check below can fail. (The
    // start-up read-ahead of the program, loader and libc may follow a link or two.)
    expect((await readlinks(['--no-read-ahead'])).reader).toBe(LINKED);
    const { reader, ahead } = await readlinks([]);
    expect(ahead).toBeGreaterThan(LINKED / 2);
    expect(reader).toBeLessThan(LINKED / 4);
  });

  it('reads nothing ahead with --no-read-ahead (SIF_NO_READ_AHEAD)', async () => {
    for (const [option, env] of [[['--no-read-ahead'], {}], [[], { SIF_NO_READ_AHEAD: '1' }]] as const) {
      const r = await sifAsUser(['exec', ...option, image, 'sh', '-c', `ls /data/walk >/dev/null; ${walkInOrder}; page-cache /data/walk/${walkName(120)} 300`], { env });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('not-cached\ntail-zero\n');
    }
  });

  it('reads nothing ahead for files taken out of order, or for one read (the checks above can fail)', async () => {
    const backwards = Array.from({ length: 10 }, (_, i) => `cat /data/walk/${walkName(9 - i)} >/dev/null`).join('; ');
    const out = await sifAsUser(['exec', image, 'sh', '-c', `${backwards}; page-cache /data/walk/${walkName(12)} 300`]);
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe('not-cached\ntail-zero\n');
    const one = await sifAsUser(['exec', image, 'sh', '-c', `ls /data/walk >/dev/null; cat /data/walk/${walkName(3)} >/dev/null; page-cache /data/walk/${walkName(5)} 300`]);
    expect(one.stderr).toBe('');
    expect(one.stdout).toBe('not-cached\ntail-zero\n');
  });

  it('sees its own writes with --writable-tmpfs, over names it had looked up and listings it had read', async () => {
    const script = [
      'cat /data/new 2>/dev/null || echo missing-before', // a cached miss, about to be created
      'ls /data/many | wc -l', // a listing, about to change
      'cat /data/small',
      'echo changed > /data/small && cat /data/small',
      'echo made > /data/new && cat /data/new',
      `rm /data/many/${manyName(0)} && touch /data/many/added && ls /data/many | wc -l`,
      `ls /data/many/${manyName(0)} 2>/dev/null || echo removed`,
      'cat /data/links/relative',
    ].join('; ');
    const r = await sifAsUser(['exec', '--writable-tmpfs', image, 'sh', '-c', script]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`missing-before\n${MANY}\nhello\nchanged\nmade\n${MANY}\nremoved\nchanged\n`);
  });
});

/** Runs fn while the kernel's fuse_request_send tracepoint records, into a tracing
 *  instance of its own; returns each request sent, by the sending process's name. */
async function fuseRequests(fn: () => Promise<void>): Promise<Array<{ comm: string; op: string }>> {
  const instance = join(TRACING, 'instances', `sif-read-cache-${process.pid}`);
  mkdirSync(instance);
  try {
    const enable = join(instance, 'events', 'fuse', 'fuse_request_send', 'enable');
    writeFileSync(enable, '1');
    try {
      await fn();
    } finally {
      writeFileSync(enable, '0');
    }
    const trace = readFileSync(join(instance, 'trace'), 'utf8');
    return [...trace.matchAll(/^\s*(.+?)-\d+\s+\[\d+\].*\((FUSE_\w+)\)/gm)].map((m) => ({ comm: m[1]!, op: m[2]! }));
  } finally {
    rmdirSync(instance);
  }
}

interface Listed {
  mode: string;
  owner: string;
  size: string;
  target: string;
}

/** unsquashfs -lln of /data: path -> mode string, uid/gid, size, symlink target. */
async function unsquashfsListing(): Promise<Map<string, Listed>> {
  const r = await execa('unsquashfs', ['-lln', '-UTC', image, '/data']);
  const out = new Map<string, Listed>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S{10}) (\d+\/\d+) +(\d+) \S+ \S+ squashfs-root\/data(\/.*?)?(?: -> (.*))?$/.exec(line);
    if (m) out.set(m[4] ?? '/', { mode: m[1]!, owner: m[2]!, size: m[3]!, target: m[5] ?? '' });
  }
  return out;
}

function isDirMode(octal: string): boolean {
  return (parseInt(octal, 8) & 0o170000) === 0o040000;
}

/** ls-style mode string, as unsquashfs prints it. */
function modeString(mode: number): string {
  const type = { 0o040000: 'd', 0o120000: 'l', 0o100000: '-' }[mode & 0o170000] ?? '?';
  const rwx = (bits: number) => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  return type + rwx(mode >> 6) + rwx(mode >> 3) + rwx(mode);
}
