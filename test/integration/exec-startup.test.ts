// What the start-up work (bin/sif.cjs, the exec bundle, the handoff, the starter) must
// leave behind: a payload with a clean signal state, no process of ours holding the
// caller's output or outliving sif, a FUSE server that grows under load.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, requireHost, runAsUser, SIF_BIN, sifAsUser, testImagesDir, userTempDir } from '../support/unprivileged.js';
import { makeTestImage } from './images.js';

let image: string;

beforeAll(async () => {
  requireHost();
  image = await makeTestImage('/nonexistent');
}, 60_000);

/** The SigIgn and SigBlk masks of a process's status, as hex strings. */
function masks(status: string): { ignored: string; blocked: string } {
  const field = (name: string) => status.match(new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm'))?.[1] ?? 'missing';
  return { ignored: field('SigIgn'), blocked: field('SigBlk') };
}

describe('start-up', () => {
  it('the payload starts with no signal ignored or blocked, whatever sif inherited', async () => {
    // Node itself ignores SIGPIPE, and the shell here adds SIGHUP and SIGINT.
    const r = await runAsUser('sh', ['-c', `trap '' HUP INT; exec "${SIF_BIN}" exec "${image}" cat /proc/self/status`]);
    expect(r.exitCode).toBe(0);
    expect(masks(r.stdout)).toEqual({ ignored: '0000000000000000', blocked: '0000000000000000' });
  });

  it('the payload runs on the CPUs sif was given', async () => {
    const cpus = (status: string) => status.match(/^Cpus_allowed_list:\s*(\S+)$/m)?.[1];
    const outside = cpus((await runAsUser('cat', ['/proc/self/status'])).stdout);
    expect(outside).toBeDefined();
    for (const pid of [[], ['--pid']]) {
      const r = await sifAsUser(['exec', ...pid, image, 'cat', '/proc/self/status']);
      expect(r.exitCode).toBe(0);
      expect(cpus(r.stdout)).toBe(outside);
    }
    // A binding the caller chose (Slurm's, taskset's) stays too.
    const bound = await runAsUser('taskset', ['-c', '0', SIF_BIN, 'exec', image, 'cat', '/proc/self/status']);
    expect(cpus(bound.stdout)).toBe('0');
  });

  it('returns as soon as the payload is done, even when its output is read to the end', async () => {
    // Command substitution waits for the end of stdout: no helper of ours may keep it open.
    const r = await runAsUser('sh', ['-c', `x=$("${SIF_BIN}" exec "${image}" echo hello); echo "got $x"`], { timeoutMs: 30_000 });
    expect(r.stdout).toBe('got hello\n');
  });

  it('leaves no process of its own running once sif has returned', async () => {
    // The payload lists the other children of the FUSE server (its parent): the helpers
    // that tear namespaces and memory down in the background. Those may exit between
    // the glob and the read (busybox awk then exits 1): cat reads, awk only filters.
    const list = 'cat /proc/[0-9]*/stat 2>/dev/null | awk -v p=$PPID -v me=$$ "\\$4 == p && \\$1 != me { print \\$1 }"';
    const r = await sifAsUser(['exec', image, 'sh', '-c', list]);
    expect(r.exitCode).toBe(0);
    const helpers = r.stdout.split('\n').filter(Boolean);
    expect(helpers.length).toBeGreaterThan(0);
    // Within moments each has exited (a zombie left for init to reap does not count).
    const alive = (pid: string): boolean => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && helpers.some(alive); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(helpers.filter(alive)).toEqual([]);
  });

  it("frees the memory of sif's Node process before the payload is under way", async () => {
    // The helper that holds it through the exec (tens of MiB) is a child of the FUSE
    // server, like the payload: the payload watches its siblings' resident sizes. The
    // starter lets the helper go once its start-up is done (--keeper-fd); were that
    // pipe left open, in the payload say, the memory would be held for the whole job.
    // (The namespace holder shares the server's own memory: not counted.)
    const script = `
      i=0
      while [ $i -lt 50 ]; do
        big=
        for c in $(awk -v p=$PPID -v me=$$ '$4 == p && $1 != me { print $1 }' /proc/[0-9]*/stat 2>/dev/null); do
          [ "$(cat /proc/$c/comm 2>/dev/null)" = sif-ns-holder ] && continue
          rss=$(awk '/^VmRSS/ { print $2 }' /proc/$c/status 2>/dev/null)
          [ "\${rss:-0}" -gt 20000 ] && big="$big $c:\${rss}kB"
        done
        [ -z "$big" ] && { echo freed; exit 0; }
        i=$((i + 1))
        sleep 0.02
      done
      echo "still held:$big"`;
    const r = await sifAsUser(['exec', image, 'sh', '-c', script]);
    expect(r.stdout).toBe('freed\n');
    expect(r.exitCode).toBe(0);
  });

  it('the FUSE server gives the memory its start-up freed back, once the start-up is over', async () => {
    const big = join(testImagesDir(), 'python.sqfs');
    if (!existsSync(big)) throw new Error(`${big} is missing: scripts/test.sh builds it (scripts/base-rootfs.sh)`);
    // The server's anonymous memory as the payload starts, then after a quiet spell.
    const rss = 'awk "/^RssAnon/ { print \\$2 }" /proc/$PPID/status';
    const r = await sifAsUser(['exec', big, 'sh', '-c', `a=$(${rss}); sleep 0.5; echo "$a $(${rss})"`]);
    expect(r.exitCode).toBe(0);
    const [starting = NaN, quiet = NaN] = r.stdout.trim().split(' ').map(Number);
    expect(quiet).toBeGreaterThan(0);
    expect(quiet).toBeLessThan(starting);
  });

  it('the FUSE server adds workers when requests wait, up to its limit', async () => {
    const big = join(testImagesDir(), 'python.sqfs');
    if (!existsSync(big)) throw new Error(`${big} is missing: scripts/test.sh builds it (scripts/base-rootfs.sh)`);
    // Two readers at once, then the thread count of the server (the payload's parent).
    const script = 'for i in 1 2; do (tar cf - /usr 2>/dev/null | wc -c >/dev/null) & done; wait; ls /proc/$PPID/task | wc -l';
    const r = await sifAsUser(['exec', big, 'sh', '-c', script], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(0);
    // The main thread and at least two workers (the limit is the CPU count, at least 2).
    expect(Number(r.stdout.trim())).toBeGreaterThanOrEqual(3);
  }, 180_000);
});

describe('the exec fast path', () => {
  // Preloaded into node: on exit, prints the files bin/sif.cjs read and the built-in
  // modules loaded, as JSON on stderr.
  const probe = `
    const fs = require('node:fs');
    const read = [];
    const readFileSync = fs.readFileSync;
    fs.readFileSync = function (file, ...rest) { read.push(String(file)); return readFileSync.call(this, file, ...rest); };
    process.on('exit', () => process._rawDebug(JSON.stringify({ read, builtins: process.moduleLoadList })));
  `;
  let dir: string;
  beforeAll(() => {
    dir = userTempDir('sif-fast-');
    writeFileSync(join(dir, 'probe.cjs'), probe);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs a script (bin/sif.cjs by default) under the probe, as the user, up to the launch plan. */
  async function run(args: string[], script = join(REPO_ROOT, 'bin', 'sif.cjs'), env: Record<string, string> = {}): Promise<{ status: number | null; read: string[]; builtins: string[] }> {
    const r = await runAsUser(process.execPath, ['--require', join(dir, 'probe.cjs'), script, ...args], {
      env: { HOME: dir, SIF_DUMP_PLAN: join(dir, 'plan'), ...env },
    });
    const json = r.stderr.split('\n').find((l) => l.startsWith('{'));
    if (!json) throw new Error(`no probe output (status ${r.exitCode}): ${r.stderr}`);
    return { status: r.exitCode, ...(JSON.parse(json) as { read: string[]; builtins: string[] }) };
  }

  let bare: Promise<Set<string>> | undefined;
  /** The built-in modules a run loaded beyond those of Node running an empty script. */
  async function extraBuiltins(out: { builtins: string[] }): Promise<string[]> {
    bare ??= (async () => {
      writeFileSync(join(dir, 'empty.cjs'), '');
      return new Set((await run([], join(dir, 'empty.cjs'))).builtins);
    })();
    const empty = await bare;
    return out.builtins.filter((m) => m.startsWith('NativeModule ') && !empty.has(m));
  }

  it('sif exec reads only the small bundle (not the full CLI) and loads no built-in module but vm', async () => {
    const out = await run(['exec', image, 'true']);
    expect(out.status).toBe(0);
    expect(existsSync(join(dir, 'plan'))).toBe(true);
    expect(out.read.filter((f) => f.includes('/dist/'))).toEqual([
      join(REPO_ROOT, 'dist', 'sif-exec.cjs.cache'),
      join(REPO_ROOT, 'dist', 'sif-exec.cjs'),
    ]);
    // Against Node running an empty script: each module more costs every start a
    // fraction of a millisecond (node:os cost ~0.6 ms). vm compiles with the code cache.
    expect(await extraBuiltins(out)).toEqual(['NativeModule vm']);
  });

  it('sif exec --nv reads the GPU bundle too, with its code cache, and nothing of the full CLI', async () => {
    const out = await run(['exec', '--nv', image, 'true']);
    expect(out.status).toBe(0);
    expect(out.read.filter((f) => f.includes('/dist/'))).toEqual([
      join(REPO_ROOT, 'dist', 'sif-exec.cjs.cache'),
      join(REPO_ROOT, 'dist', 'sif-exec.cjs'),
      join(REPO_ROOT, 'dist', 'sif-gpu.cjs.cache'),
      join(REPO_ROOT, 'dist', 'sif-gpu.cjs'),
    ]);
  });

  it('sif exec --nv against a driver loads no built-in module but vm, and not the image reader of --nv-compat', async () => {
    execFileSync('bash', [join(REPO_ROOT, 'scripts', 'fake-nvidia.sh')], { stdio: 'inherit' });
    const driver = { SIF_TEST_NVIDIA_ROOT: join(REPO_ROOT, '.cache', 'fake-nvidia') };
    const out = await run(['exec', '--nv', '--contain', image, 'true'], undefined, driver);
    expect(out.status).toBe(0);
    // node:child_process (nvidia-smi, for MIG names only) and node:zlib (the image reader) cost ~6-7 ms each.
    expect(await extraBuiltins(out)).toEqual(['NativeModule vm']);
    expect(out.read.filter((f) => f.includes('sif-gpu-image'))).toEqual([]);
    // --nv-compat reads the image, through its own bundle, with its code cache.
    const compat = await run(['exec', '--nv', '--nv-compat', image, 'true'], undefined, driver);
    expect(compat.status).toBe(0);
    expect(compat.read).toContain(join(REPO_ROOT, 'dist', 'sif-gpu-image.cjs'));
    expect(compat.read).toContain(join(REPO_ROOT, 'dist', 'sif-gpu-image.cjs.cache'));
  });

  it('sif exec --mpi, its plan kept from the start before, reads the MPI bundle with its cache and loads no more built-ins', async () => {
    // A Debian image (--mpi wants glibc). The first start plans (and inflates image
    // blocks: node:zlib); the second only checks what it kept.
    const debian = join(testImagesDir(), 'python.sqfs');
    const env = { XDG_RUNTIME_DIR: dir };
    await run(['exec', '--mpi', debian, 'true'], undefined, env);
    const out = await run(['exec', '--mpi', debian, 'true'], undefined, env);
    expect(out.status).toBe(0);
    expect(out.read.filter((f) => f.includes('/dist/'))).toEqual([
      join(REPO_ROOT, 'dist', 'sif-exec.cjs.cache'),
      join(REPO_ROOT, 'dist', 'sif-exec.cjs'),
      join(REPO_ROOT, 'dist', 'sif-mpi.cjs.cache'),
      join(REPO_ROOT, 'dist', 'sif-mpi.cjs'),
    ]);
    expect(await extraBuiltins(out)).toEqual(['NativeModule vm']);
  }, 60_000);

  it('bin/sif starts the node that built it, without /usr/bin/env', () => {
    const launcher = readFileSync(SIF_BIN, 'utf8');
    expect(launcher.split('\n')[0]).toBe(`#!${process.execPath}`);
    // The rest is bin/sif.cjs, which npm links: the two cannot drift apart.
    const portable = readFileSync(join(REPO_ROOT, 'bin', 'sif.cjs'), 'utf8');
    expect(portable.split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(launcher.slice(launcher.indexOf('\n'))).toBe(portable.slice(portable.indexOf('\n')));
  });

  it('falls back to the full CLI for anything else, and reports a bad image without it', async () => {
    expect((await run(['--version'])).read).toContain(join(REPO_ROOT, 'dist', 'sif.cjs'));
    expect((await run(['exec', '--help'])).read).toContain(join(REPO_ROOT, 'dist', 'sif.cjs'));
    const bad = join(dir, 'bad.sif');
    writeFileSync(bad, 'not an image');
    rmSync(join(dir, 'plan'), { force: true });
    const out = await run(['exec', bad, 'true']);
    expect(out.status).toBe(125);
    expect(out.read).not.toContain(join(REPO_ROOT, 'dist', 'sif.cjs'));
    expect(existsSync(join(dir, 'plan'))).toBe(false);
  });
});
