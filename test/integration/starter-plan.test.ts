import { execa } from 'execa';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STARTER_PATH } from '../../src/exec/handoff.js';

/** The starter re-checks every plan record before touching any namespace. */
const ns = (...fields: string[]) => fields.map((f) => `${Buffer.byteLength(f)}:${f},`).join('');

async function starter(plan: string): Promise<{ exitCode?: number; stderr: string }> {
  const child = execa(STARTER_PATH, ['--plan-fd', '3'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], reject: false, timeout: 10_000 });
  (child.stdio[3] as unknown as NodeJS.WritableStream).end(plan);
  const r = await child;
  return { exitCode: r.exitCode, stderr: String(r.stderr) };
}

describe('starter plan validation', () => {
  beforeAll(() => {
    if (!existsSync(STARTER_PATH)) throw new Error(`${STARTER_PATH} is missing: npm run build`);
  });

  it.each([
    ['a wrong version', ns('SIFPLAN/0', 'end'), /version mismatch/],
    ['a truncated field', '9:SIFPLAN/2,12:ima', /malformed plan/],
    ['an unknown record', ns('SIFPLAN/2', 'image', '/i', '0', 'chown', '/x', 'end'), /unknown record 'chown'/],
    ['a relative destination', ns('SIFPLAN/2', 'image', '/i', '0', 'tmpfs', 'tmp', '1777', 'arg', 'true', 'end'), /not an absolute path/],
    ['a .. in a destination', ns('SIFPLAN/2', 'image', '/i', '0', 'bind', '/a', '/x/../../etc', '', 'arg', 'true', 'end'), /contains '\.\.'/],
    ['a bad mode', ns('SIFPLAN/2', 'image', '/i', '0', 'tmpfs', '/t', '99', 'arg', 'true', 'end'), /bad mode/],
    ['an unknown bind option', ns('SIFPLAN/2', 'image', '/i', '0', 'bind', '/a', '/b', 'suid', 'arg', 'true', 'end'), /unknown bind option 'suid'/],
    ['no command', ns('SIFPLAN/2', 'image', '/i', '0', 'end'), /no command/],
    ['bytes after end', ns('SIFPLAN/2', 'image', '/i', '0', 'arg', 'true', 'end') + 'x', /after 'end'/],
    ['a share key that is no file name', ns('SIFPLAN/2', 'image', '/i', '0', 'share', '/tmp/s', '../x', '1', '2', '0', 'arg', 'true', 'end'), /bad share key/],
    ['a relative share directory', ns('SIFPLAN/2', 'image', '/i', '0', 'share', 'tmp/s', 'ab', '1', '2', '0', 'arg', 'true', 'end'), /not an absolute path/],
    ['a bad image inode', ns('SIFPLAN/2', 'image', '/i', '0', 'share', '/tmp/s', 'ab', '1', '-2', '0', 'arg', 'true', 'end'), /bad image inode/],
    ['a shared container with a PID namespace', ns('SIFPLAN/2', 'image', '/i', '0', 'flag', 'pid', 'share', '/tmp/s', 'ab', '1', '2', '0', 'arg', 'true', 'end'), /cannot have its own PID namespace/],
    ['a linger time over an hour', ns('SIFPLAN/2', 'image', '/i', '0', 'share', '/tmp/s', 'ab', '1', '2', '3600001', 'arg', 'true', 'end'), /linger time 3600001 ms is over an hour/],
    ['a linger time that is no number', ns('SIFPLAN/2', 'image', '/i', '0', 'share', '/tmp/s', 'ab', '1', '2', '10s', 'arg', 'true', 'end'), /bad linger time '10s'/],
  ])('refuses %s with exit 125', async (_what, plan, message) => {
    const r = await starter(plan);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/^sif: error: /);
    expect(r.stderr).toMatch(message);
  });

  it('refuses to start without a plan fd', async () => {
    const r = await execa(STARTER_PATH, [], { reject: false });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/usage/);
  });

  it.each([
    [['--plan-fd', '3', '--keeper-fd'], /usage/],
    [['--plan-fd', '3', '--keeper', '4'], /usage/],
    [['--plan-fd', '3', '--keeper-fd', 'x'], /bad fd 'x'/],
    [['--plan-fd', '3', '--keeper-fd', '3'], /must differ/],
  ])('refuses the arguments %j', async (args, message) => {
    const r = await execa(STARTER_PATH, args, { reject: false });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(message);
  });
});

describe('starter with a minimal plan', () => {
  it('never waits on its own FUSE mount (nothing of the host mounted in the container)', async () => {
    const { FIXTURES, runAsUser, userTempDir } = await import('../support/unprivileged.js');
    const dir = userTempDir('sif-plan-');
    const planFile = join(dir, 'plan');
    // No /proc, /sys or /dev: any file the FUSE server's own threads opened in the
    // container would be served by themselves, and would hang.
    writeFileSync(planFile, ns('SIFPLAN/2', 'image', join(FIXTURES, 'sif', 'busybox_amd64.sif'), '45056', 'cwd', '/', 'arg', '/bin/true', 'env', 'PATH=/bin', 'end'), { mode: 0o644 });
    for (let i = 0; i < 8; i++) {
      const r = await runAsUser('sh', ['-c', `exec ${STARTER_PATH} --plan-fd 3 3<${planFile}`], { timeoutMs: 15_000 });
      expect([r.exitCode, r.stderr]).toEqual([0, '']);
    }
  }, 120_000);

  it('binds a source from the path it was given, following no symbolic link (Node resolved it)', async () => {
    // A link on the way means the path changed after sif resolved it: a swap between the
    // two look-ups would otherwise bind whatever the link names.
    const { FIXTURES, runAsUser, userTempDir } = await import('../support/unprivileged.js');
    const dir = userTempDir('sif-plan-');
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'marker'), 'here\n', { mode: 0o644 });
    symlinkSync('real', join(dir, 'link'));
    const run = async (src: string) => {
      const planFile = join(dir, 'plan');
      writeFileSync(planFile, ns('SIFPLAN/2', 'image', join(FIXTURES, 'sif', 'busybox_amd64.sif'), '45056', 'bind', src, '/mnt', '', 'cwd', '/', 'arg', '/bin/cat', 'arg', '/mnt/marker', 'env', 'PATH=/bin', 'end'), { mode: 0o644 });
      return runAsUser('sh', ['-c', `exec ${STARTER_PATH} --plan-fd 3 3<${planFile}`], { timeoutMs: 15_000 });
    };
    expect(await run(join(dir, 'real'))).toMatchObject({ exitCode: 0, stdout: 'here\n' });
    for (const src of [join(dir, 'link'), join(dir, 'link', 'marker')]) {
      const r = await run(src);
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toMatch(new RegExp(`^sif: error: bind source ${src}: a symbolic link now stands on its path`));
    }
  }, 60_000);
});
