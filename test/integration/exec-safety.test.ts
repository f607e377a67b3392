import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { STARTER_PATH } from '../../src/exec/handoff.js';
import { requireHost, runAsUser, sifAsUser, userId, userTempDir } from '../support/unprivileged.js';
import { makeTestImage } from './images.js';

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
