import { chmodSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, requireHost, sifAsUser, userTempDir } from '../support/unprivileged.js';
import { copyTo } from './images.js';

const sifs = join(FIXTURES, 'sif');
let dir: string;

beforeAll(async () => {
  requireHost();
  dir = await userTempDir('sif-bad-');
});

async function expectFailure(args: string[], message: RegExp): Promise<void> {
  const r = await sifAsUser(args, { timeoutMs: 20_000 });
  expect(r.exitCode).toBe(125);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^sif: error: /);
  expect(r.stderr).toMatch(message);
}

describe('bad images get a clear error, never a crash or a hang', () => {
  it('a missing file', () => expectFailure(['exec', join(dir, 'nope.sif'), 'true'], /nope\.sif/));

  it('a file that is not an image', async () => {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'hello\n', { mode: 0o644 });
    await expectFailure(['exec', f, 'true'], /notes\.txt.*(not a SIF|neither)/i);
  });

  it('a truncated SIF', async () => {
    const f = copyTo(join(sifs, 'busybox_amd64.sif'), dir, 'cut.sif');
    truncateSync(f, 400_000);
    await expectFailure(['exec', f, 'true'], /cut\.sif.*(truncated|past the end)/i);
  });

  it('an image the user may not read (checked as the user: root reads anything)', async () => {
    const f = copyTo(join(sifs, 'busybox_amd64.sif'), dir, 'private.sif');
    chmodSync(f, 0o600); // owned by root, as copied by the test process
    await expectFailure(['exec', f, 'true'], /private\.sif: permission denied/);
  });

  it('a SIF without a squashfs system partition', () => expectFailure(['exec', join(sifs, 'empty.sif'), 'true'], /empty\.sif/));

  it('an image for another architecture', async () => {
    const f = copyTo(join(sifs, 'busybox_amd64.sif'), dir, 'arm.sif');
    const buf = readFileSync(f);
    // Header arch and the partition descriptor's arch: "02" (amd64) -> "04" (arm64).
    buf.write('04', 45, 'latin1');
    for (let d = 0; d < 48; d++) {
      const at = 4096 + d * 585;
      if (buf.readInt32LE(at) === 0x4004) buf.write('04', at + 209, 'latin1');
    }
    writeFileSync(f, buf);
    await expectFailure(['exec', f, 'true'], /arm64/);
  });

  it('a corrupt squashfs inside a valid SIF is reported by the starter', async () => {
    const f = copyTo(join(sifs, 'busybox_amd64.sif'), dir, 'garbled.sif');
    const buf = readFileSync(f);
    buf.fill(0x5a, 45056 + 96, 45056 + 4096); // keep the superblock, garble the tables after it
    buf.fill(0x5a, buf.length - 8192);
    writeFileSync(f, buf);
    const r = await sifAsUser(['exec', f, 'true'], { timeoutMs: 20_000 });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/sif: error: /);
  });
});

describe('bad options', () => {
  it('a bind source that does not exist', () => expectFailure(['exec', '-B', '/no/such/dir:/x', join(sifs, 'busybox_amd64.sif'), 'true'], /\/no\/such\/dir/));
  it('a malformed bind', () => expectFailure(['exec', '-B', '/tmp:rel', join(sifs, 'busybox_amd64.sif'), 'true'], /not an absolute path/));
  it('no command', () => expectFailure(['exec', join(sifs, 'busybox_amd64.sif')], /no command/));
});
