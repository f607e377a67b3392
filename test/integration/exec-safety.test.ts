import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STARTER_PATH } from '../../src/exec/handoff.js';
import { requireHost, runAsUser, SIF_BIN, sifAsUser, spawnAsUser, userId, userTempDir } from '../support/unprivileged.js';
import { makeEditedImage, makeTestImage } from './images.js';

let image: string;

beforeAll(async () => {
  requireHost();
  image = await makeTestImage('/nonexistent');
}, 60_000);

describe('privilege', () => {
  it('a setuid-root program in the image gains nothing', async () => {
    const r = await sifAsUser(['exec', image, '/suid/busybox', 'id', '-u']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe(String(userId().uid));
  });

  it('the payload has no capabilities and no_new_privs set', async () => {
    const r = await sifAsUser(['exec', image, 'sh', '-c', 'grep -E "^(CapEff|CapPrm|NoNewPrivs)" /proc/self/status']);
    expect(r.stdout).toMatch(/CapPrm:\s+0{16}/);
    expect(r.stdout).toMatch(/CapEff:\s+0{16}/);
    expect(r.stdout).toMatch(/NoNewPrivs:\s+1/);
  });

  it('the starter refuses to run setuid', async () => {
    const dir = await userTempDir('sif-suid-');
    const copy = join(dir, 'sif-starter');
    copyFileSync(STARTER_PATH, copy);
    chmodSync(copy, 0o4755); // owned by root: euid would become 0
    const r = await runAsUser(copy, ['--plan-fd', '3']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/must not be setuid/);
  });
});

describe('a hostile image', () => {
  // Each would hang the start for good (signals are blocked while the container is
  // built): the image's passwd or group must be read without waiting on anything.
  it.each([
    ['/etc/passwd', 'a FIFO'],
    ['/etc/group', 'a FIFO'],
    ['/etc/passwd', 'a symbolic link to /dev/ptmx'],
    ['/etc/group', 'a symbolic link to /dev/ptmx'],
  ])('%s as %s: a warning, no merge, no hang', async (file, kind) => {
    const hostile = await makeEditedImage((root) => {
      rmSync(join(root, file));
      if (kind === 'a FIFO') {
        execFileSync('mkfifo', [join(root, file)]);
      } else {
        symlinkSync('/dev/ptmx', join(root, file));
        // Present in the image, so that no mount point is made over the link: in the
        // container it leads to the host's /dev/ptmx, bound in.
        writeFileSync(join(root, 'dev', 'ptmx'), '');
      }
    });
    const r = await sifAsUser(['exec', hostile, 'cat', file], { timeoutMs: 15_000 });
    expect([r.exitCode, r.signal]).toEqual([0, null]);
    expect(r.stderr).toMatch(new RegExp(`^sif: warning: .*${file} in the image is not a regular file`, 'm'));
    // The caller's own line is there all the same.
    expect(r.stdout).toMatch(new RegExp(`^[^:]+:x:${file === '/etc/passwd' ? userId().uid : userId().gid}:`));
  }, 40_000);

  it('cannot make sif create files in a host directory bound into the container', async () => {
    // /etc -> /tmp: the mount points for /etc/hosts, /etc/passwd, ... would be made in
    // the container's /tmp, the host directory bound there (--workdir's tmp/ here).
    const hostile = await makeEditedImage((root) => {
      rmSync(join(root, 'etc'), { recursive: true });
      symlinkSync('/tmp', join(root, 'etc'));
    });
    const workdir = userTempDir('sif-wd-');
    const r = await sifAsUser(['exec', '--workdir', workdir, hostile, 'true'], { timeoutMs: 15_000 });
    expect(readdirSync(join(workdir, 'tmp'))).toEqual([]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/^sif: error: cannot make the mount point \/etc\/\w+: it would be made in \/tmp, outside the container's own filesystem/m);
  }, 30_000);

  it('no mount point is made below a host directory bound earlier: the bind fails instead', async () => {
    const outer = userTempDir('sif-outer-');
    const inner = userTempDir('sif-inner-');
    const r = await sifAsUser(['exec', '-B', `${outer}:/mnt/outer`, '-B', `${inner}:/mnt/outer/inner`, image, 'true'], { timeoutMs: 15_000 });
    expect(existsSync(join(outer, 'inner'))).toBe(false);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/cannot make the mount point \/mnt\/outer\/inner: /);
  });

  it("ordinary symlinks in the image still lead to mount points in the image's own tree", async () => {
    // As in Debian: /var/run -> /run, /lib -> usr/lib.
    const usual = await makeEditedImage((root) => {
      mkdirSync(join(root, 'run'));
      mkdirSync(join(root, 'var'));
      symlinkSync('/run', join(root, 'var', 'run'));
      mkdirSync(join(root, 'usr', 'lib'), { recursive: true });
      symlinkSync('usr/lib', join(root, 'lib'));
    });
    const dir = userTempDir('sif-src-');
    writeFileSync(join(dir, 'marker'), 'here\n', { mode: 0o644 });
    const r = await sifAsUser(['exec', '-B', `${dir}:/var/run/a`, '-B', `${dir}:/lib/b`, usual, 'cat', '/run/a/marker', '/usr/lib/b/marker'], { timeoutMs: 15_000 });
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe('here\nhere\n');
  });
});

describe('bind sources', () => {
  it("are resolved by sif before the start: symbolic links in -B's source and in the default binds", async () => {
    // The starter follows no link in a source: sif must give it every one resolved, its
    // own default binds too (/etc/localtime is a link on most hosts, to the zone file).
    const dir = userTempDir('sif-src-');
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'marker'), 'here\n', { mode: 0o644 });
    symlinkSync('real', join(dir, 'link'));
    const r = await sifAsUser(['exec', '-B', `${join(dir, 'link')}:/mnt`, image, 'cat', '/mnt/marker']);
    expect([r.exitCode, r.stderr, r.stdout]).toEqual([0, '', 'here\n']);
  });
});

describe("sif's own processes", () => {
  it('--pwd cannot lead through /proc into the root of a process of sif', async () => {
    // $$ is sif's pid (the shell execs sif, which becomes the starter): its
    // /proc entry's root is the host's.
    const r = await runAsUser('sh', ['-c', `exec "${SIF_BIN}" exec --pwd /proc/$$/root "${image}" ls`], { timeoutMs: 15_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/cannot enter the working directory \/proc\/\d+\/root/);
    // The container's root instead: the image's own entries.
    expect(r.stdout.split('\n')).toContain('escape-abs');
  });

  it('are not dumpable, while the payload is', async () => {
    // A process that is not dumpable has the files in its /proc/<pid> owned by root: no process of
    // the caller's can look into it (root, fd, mem). The payload prints its pid, then
    // waits for us to look; the spawned process is sif, that is the FUSE server.
    const sif = spawnAsUser(['exec', image, 'sh', '-c', 'echo $$; read x'], { timeoutMs: 15_000 });
    const line = await new Promise<string>((resolve) => sif.stdout?.once('data', (d: Buffer) => resolve(String(d))));
    const owner = (pid: number | string | undefined) => statSync(`/proc/${pid}/status`).uid;
    try {
      expect([owner(sif.pid), owner(line.trim())]).toEqual([0, userId().uid]);
    } finally {
      sif.stdin?.end();
      await sif;
    }
  });

  it.each([[[]], [['--pid']]])('the payload stays dumpable (its /proc entries are its own) %j', async (flags) => {
    const r = await sifAsUser(['exec', ...flags, image, 'stat', '-c', '%u', '/proc/self/status']);
    expect([r.exitCode, r.stdout]).toEqual([0, `${userId().uid}\n`]);
  });
});
