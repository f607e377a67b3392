// Corrupt images, made here from a good one by mutation, run as the unprivileged user.
// The guarantee (issue 10): a clean error (exit 125, "sif: error: ...") or a run, but
// never a crash of sif (a status of 128 or more) and never a hang. A run past its time
// is killed; then no process of the run may be left, in uninterruptible sleep (D) or
// at all: such a process and its FUSE mount can only be freed by root (the test does
// so, to clean up after a failure). See native/starter/squash-check.c (the checks
// before mounting), squash-guards.c (bounds checks around squashfuse) and prefetch.c
// (the FUSE server never waits on its own mount).
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeBusyboxRootfs } from '../support/squashfs.js';
import { requireHost, spawnAsUser, userTempDir, type RunResult } from '../support/unprivileged.js';

const FUSECTL = '/sys/fs/fuse/connections';
const RUN_SECONDS = 20;
let dir: string;
/** The good image, its metadata compressed as usual, and left uncompressed. */
let good: Buffer;
let raw: Buffer;

beforeAll(async () => {
  requireHost();
  dir = await userTempDir('sif-corrupt-');
  const root = join(dir, 'root');
  await makeBusyboxRootfs(root);
  mkdirSync(join(root, 'd'));
  for (let i = 0; i < 200; i++) writeFileSync(join(root, 'd', `f${i}`), `file ${i}\n`.repeat(i));
  const image = join(dir, 'image.sqfs');
  await execa('mksquashfs', [root, image, '-noappend', '-quiet', '-comp', 'gzip']);
  good = readFileSync(image);
  // Metadata left uncompressed (-noI): random damage then reaches inodes, directories
  // and tables as they are, instead of only breaking their compression.
  await execa('mksquashfs', [root, image, '-noappend', '-quiet', '-comp', 'gzip', '-noI']);
  raw = readFileSync(image);
  // fusectl lets the test free a hung mount (root only): mounted if it is not yet.
  if (existsSync(FUSECTL) && !readFileSync('/proc/self/mounts', 'utf8').includes(' fusectl ')) {
    await execa('mount', ['-t', 'fusectl', 'none', FUSECTL], { reject: false });
  }
}, (RUN_SECONDS + 25) * 1000);

const u64 = (buf: Buffer, at: number): number => Number(buf.readBigUInt64LE(at));

/** A copy of the good image with patch applied, written for the test user to read. */
function mutant(name: string, patch: (img: Buffer) => unknown, from = good): string {
  const img = Buffer.from(from);
  const patched = patch(img);
  const out = Buffer.isBuffer(patched) ? patched : img;
  const file = join(dir, `${name}.sqfs`);
  writeFileSync(file, out, { mode: 0o644 });
  return file;
}

interface Proc {
  pid: number;
  ppid: number;
  state: string;
}

/**
 * The live processes of one run: those whose environment carries its tag (sif's
 * own), those holding its image open (the FUSE server, whose environment sif sets
 * anew), and their descendants (the read-ahead, the container).
 */
function runProcesses(tag: string, image: string): Proc[] {
  const all = new Map<number, Proc>();
  const seeds = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const proc = { pid: Number(entry), ppid: Number(fields[1]), state: fields[0] ?? '?' };
      all.set(proc.pid, proc);
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`SIF_TEST_RUN=${tag}`)) seeds.add(proc.pid);
      else if (readdirSync(`/proc/${entry}/fd`).some((fd) => readlinkOr(`/proc/${entry}/fd/${fd}`) === image)) seeds.add(proc.pid);
    } catch {
      // gone meanwhile
    }
  }
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all.values()) {
      if (!seeds.has(p.pid) && seeds.has(p.ppid)) {
        seeds.add(p.pid);
        grew = true;
      }
    }
  }
  return [...seeds].map((pid) => all.get(pid)).filter((p): p is Proc => p !== undefined && p.state !== 'Z');
}

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

/** Aborts the FUSE connections of these processes' mounts (cleanup after a failure). */
function abortMounts(pids: number[]): void {
  for (const pid of pids) {
    try {
      for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
        const m = / \d+:(\d+) .* - fuse\.squashfuse /.exec(line);
        if (m) writeFileSync(join(FUSECTL, m[1] ?? '', 'abort'), '1');
      }
    } catch {
      // gone, or fusectl missing: nothing more root can do here
    }
  }
}

let runs = 0;
const sleep = (ms: number): Promise<'late'> => new Promise((done) => setTimeout(() => done('late'), ms));

/**
 * Runs a walk of the whole tree on the image, as the user, killed after RUN_SECONDS,
 * and checks the guarantee. The payload is the host's own static busybox, bound in:
 * a corrupt image cannot crash it, so any death by signal is sif's.
 */
async function runOn(image: string): Promise<RunResult> {
  const tag = `${process.pid}-${runs++}`;
  const walk = 'ls -lR / >/dev/null 2>&1; cat /etc/passwd /d/* >/dev/null 2>&1; echo walked';
  const run = spawnAsUser(['exec', '-B', '/bin:/host-bin', image, '/host-bin/busybox', 'sh', '-c', walk], {
    env: { SIF_TEST_RUN: tag },
    timeoutMs: RUN_SECONDS * 1000,
  });
  // Killed at RUN_SECONDS; a run that even SIGKILL does not end (processes in D state)
  // would never settle, so the test stops waiting a little later.
  const settled = await Promise.race([run, sleep((RUN_SECONDS + 10) * 1000)]);
  let left = runProcesses(tag, image);
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await sleep(100);
    left = runProcesses(tag, image);
  }
  if (left.length > 0) abortMounts(left.map((p) => p.pid));
  expect({ image, left, settled: settled !== 'late' }).toEqual({ image, left: [], settled: true });
  const r = await run;
  const result: RunResult = {
    exitCode: r.exitCode ?? null,
    signal: r.signal ?? null,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
  };
  expect({ image, signal: result.signal, stderr: result.stderr }).toEqual({ image, signal: null, stderr: result.stderr });
  expect(result.exitCode).not.toBeNull();
  if (result.exitCode !== 0) {
    expect({ image, exitCode: result.exitCode, stderr: result.stderr }).toEqual({
      image,
      exitCode: 125,
      stderr: expect.stringMatching(/^sif: error: /m),
    });
  }
  return result;
}

describe('a corrupt image never hangs or crashes sif', () => {
  it('the image itself runs (the mutations below start from a good image)', async () => {
    const r = await runOn(mutant('good', () => {}));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('walked\n');
  }, (RUN_SECONDS + 25) * 1000);

  it('the directory table pointing at the fragment table: a clean error (it hung, unkillable, before)', async () => {
    const image = mutant('dir-at-fragments', (img) => {
      img.writeBigUInt64LE(img.readBigUInt64LE(u64(img, 80)), 72);
    });
    const r = await runOn(image);
    expect(r.exitCode).toBe(125);
  }, (RUN_SECONDS + 25) * 1000);

  // Each superblock field wrong in turn: refused before mounting, naming the image and the fault.
  const superblock: [string, (img: Buffer) => unknown, RegExp][] = [
    ['no inodes', (img) => img.writeUInt32LE(0, 4), /no inodes/],
    ['the fragment count far too large', (img) => img.writeUInt32LE(0x7fffffff, 16), /fragment table has 2147483647 entries/],
    ['the id count too large for its index', (img) => img.writeUInt16LE(0xffff, 26), /id table's index/],
    ['the inode table at 0', (img) => img.writeBigUInt64LE(0n, 64), /inode table .* not in order/],
    ['the inode table after the directory table', (img) => img.writeBigUInt64LE(BigInt(u64(img, 72) + 100), 64), /not in order/],
    ['the directory table past the end', (img) => img.writeBigUInt64LE(BigInt(u64(img, 40) + 4096), 72), /not in order/],
    ['the id table inside the inode table', (img) => img.writeBigUInt64LE(BigInt(u64(img, 64) + 10), 48), /id table/],
    ['the fragment table past its successor', (img) => img.writeBigUInt64LE(BigInt(u64(img, 40) - 4), 80), /fragment table's index/],
    ['the export table at the inode table', (img) => img.writeBigUInt64LE(BigInt(u64(img, 64)), 88), /export table/],
    ['the xattr table at the directory table', (img) => img.writeBigUInt64LE(BigInt(u64(img, 72)), 56), /xattr/],
    ['the root inode outside the inode table', (img) => img.writeBigUInt64LE(0x7fff_fff0n, 32), /root inode/],
    ['an unknown compression', (img) => img.writeUInt16LE(9, 20), /compression id 9/],
    ['a block size that disagrees with block_log', (img) => img.writeUInt16LE(16, 22), /block size/],
    ['bytes_used past the end of the file', (img) => img.writeBigUInt64LE(BigInt(img.length + 1), 40), /needs \d+ bytes|bytes_used/],
    ['the superblock cut short', (img) => img.subarray(0, 60), /truncated|cut short/],
  ];
  it.each(superblock)('superblock: %s', async (name, patch, why) => {
    const image = mutant(`sb-${name.replace(/\W+/g, '-')}`, patch);
    const r = await runOn(image);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(image);
    expect(r.stderr).toMatch(why);
  }, (RUN_SECONDS + 25) * 1000);

  // Random damage to the metadata (inodes, directories, tables): the run may work or
  // fail cleanly. Deterministic: the same bytes each time.
  it('random damage to the metadata', async () => {
    const inodeStart = u64(raw, 64);
    const used = u64(raw, 40);
    let seed = 0x5eed;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % n;
    };
    const values = [0, 1, 0x7f, 0xff, 0x1fff, 0x2000, 0x7fff, 0x8000, 0xffff];
    for (let i = 0; i < 12; i++) {
      const image = mutant(`random-${i}`, (img) => {
        for (let k = 0; k < 1 + random(4); k++) {
          const at = inodeStart + random(used - inodeStart - 2);
          if (random(2)) img.writeUInt16LE(values[random(values.length)] ?? 0, at);
          else img[at] = random(256);
        }
      }, raw);
      await runOn(image);
    }
  }, 12 * (RUN_SECONDS + 20) * 1000);
});
