import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STARTER_PATH } from '../../src/exec/handoff.js';
import { requireHost, runAsUser, sifAsUser, userId, userTempDir } from '../support/unprivileged.js';
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
});
