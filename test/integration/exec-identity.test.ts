import { chownSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, requireHost, runAsUser, sifAsUser, userId, userTempDir } from '../support/unprivileged.js';
import { makeTestImage } from './images.js';

const busybox = join(FIXTURES, 'sif', 'busybox_amd64.sif');
let image: string;
let hostDir: string;
/** A host directory the user owns but that no default mount brings into the container. */
const unbound = `/srv/sif-escape-${process.pid}`;

beforeAll(async () => {
  requireHost();
  hostDir = await userTempDir('sif-host-');
  mkdirSync(unbound, { mode: 0o755 });
  chownSync(unbound, userId().uid, userId().gid);
  image = await makeTestImage(unbound);
}, 60_000);

afterAll(() => rmSync(unbound, { recursive: true, force: true }));

describe('sif exec as an unprivileged user', () => {
  it('runs busybox from the Singularity-built fixture', async () => {
    const r = await sifAsUser(['exec', busybox, 'busybox', 'echo', 'hi']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hi\n');
    expect(r.exitCode).toBe(0);
  });

  it('keeps uid, gid and groups, and names them', async () => {
    const outside = await runAsUser('id', []);
    const inside = await sifAsUser(['exec', image, 'id']);
    expect(inside.exitCode).toBe(0);
    expect(inside.stdout).toBe(outside.stdout);
    const { uid, gid } = userId();
    expect(inside.stdout).toContain(`uid=${uid}(sif-test) gid=${gid}(`);
  });

  it('finds the user in /etc/passwd with the right home, keeping the image entries', async () => {
    const r = await sifAsUser(['exec', image, 'sh', '-c', 'cat /etc/passwd; echo "HOME=$HOME"; cd ~ && pwd']);
    expect(r.stdout).toMatch(/^sif-test:x:\d+:\d+:[^:]*:\/home\/sif-test:/m);
    expect(r.stdout).toMatch(/^root:x:0:0:/m);
    expect(r.stdout).toContain('HOME=/home/sif-test\n/home/sif-test\n');
  });

  it('creates files in $HOME owned by the user', async () => {
    const name = `made-${process.pid}`;
    const r = await sifAsUser(['exec', image, 'sh', '-c', `echo data > ~/${name}`]);
    expect(r.exitCode).toBe(0);
    const st = statSync(join('/home/sif-test', name));
    expect([st.uid, st.gid]).toEqual([userId().uid, userId().gid]);
    expect(readFileSync(join('/home/sif-test', name), 'utf8')).toBe('data\n');
  });

  it('binds the current directory and runs there', async () => {
    const r = await sifAsUser(['exec', image, 'sh', '-c', 'pwd; ls'], { cwd: hostDir });
    expect(r.stdout.split('\n')[0]).toBe(hostDir);
  });

  it('refuses writes to read-only binds and allows them to read-write ones', async () => {
    const ro = await sifAsUser(['exec', '-B', `${hostDir}:/data:ro`, image, 'touch', '/data/x']);
    expect(ro.exitCode).not.toBe(0);
    expect(ro.stderr).toMatch(/Read-only file system/);
    const rw = await sifAsUser(['exec', '--bind', `${hostDir}:/data`, image, 'touch', '/data/rw-ok']);
    expect(rw.exitCode).toBe(0);
    expect(statSync(join(hostDir, 'rw-ok')).uid).toBe(userId().uid);
  });

  it('keeps the image read-only, and --writable-tmpfs writes vanish at exit', async () => {
    const ro = await sifAsUser(['exec', image, 'sh', '-c', 'echo x > /scratch/f']);
    expect(ro.exitCode).not.toBe(0);
    const rw = await sifAsUser(['exec', '--writable-tmpfs', image, 'sh', '-c', 'echo x > /scratch/f && cat /scratch/f']);
    expect(rw.stdout).toBe('x\n');
    const after = await sifAsUser(['exec', image, 'ls', '/scratch']);
    expect(after.stdout).toBe('');
  });

  it('does not follow planted symlinks out of the container when making mount points', async () => {
    for (const link of ['/escape-abs', '/escape-rel']) {
      // The links lead nowhere inside the container: a clear refusal, and nothing made on the host.
      const r = await sifAsUser(['exec', '-B', `${hostDir}:${link}/planted`, image, 'true']);
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toContain(`sif: error: cannot make the mount point ${link}: it is a symbolic link to a missing path`);
    }
    const host = await runAsUser('ls', ['-A', unbound]);
    expect(host.stdout).toBe('');
  });

  it('runs 20 containers of one image at once', async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => sifAsUser(['exec', image, 'echo', String(i)])));
    expect(runs.map((r) => r.exitCode)).toEqual(Array(20).fill(0));
    expect(runs.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
  }, 120_000);
});
