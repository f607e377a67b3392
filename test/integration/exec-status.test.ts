import { requireHost, sifAsUser, spawnAsUser } from '../support/unprivileged.js';
import { makeTestImage } from './images.js';

let image: string;

beforeAll(async () => {
  requireHost();
  image = await makeTestImage('/nonexistent');
}, 60_000);

describe('exit status', () => {
  it.each([
    [['true'], 0],
    [['false'], 1],
    [['sh', '-c', 'exit 42'], 42],
    [['sh', '-c', 'kill -TERM $$'], 143],
    [['sh', '-c', 'kill -KILL $$'], 137],
  ])('%j exits %d', async (cmd, code) => {
    expect((await sifAsUser(['exec', image, ...cmd])).exitCode).toBe(code);
  });

  it('127 for a command not found, with a message', async () => {
    const r = await sifAsUser(['exec', image, 'no-such-command']);
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toMatch(/no-such-command: command not found/);
  });

  it('126 for a file that is not executable or not a program', async () => {
    for (const cmd of ['/bin/not-exec', '/bin/bad-format']) {
      const r = await sifAsUser(['exec', image, cmd]);
      expect(r.exitCode).toBe(126);
      expect(r.stderr).toContain(cmd);
    }
  });

  it('passes stdin through and keeps stdout and stderr apart', async () => {
    const r = await sifAsUser(['exec', image, 'sh', '-c', 'cat; echo err >&2'], { input: 'from stdin\n' });
    expect(r.stdout).toBe('from stdin\n');
    expect(r.stderr).toBe('err\n');
  });
});

describe('signals', () => {
  const trap = 'trap "echo got-$1; exit 7" $1; echo ready; while :; do sleep 0.05; done';
  it.each(['TERM', 'INT', 'HUP'])('SIG%s sent to sif reaches the payload', async (sig) => {
    const child = spawnAsUser(['exec', image, 'sh', '-c', trap, 'sh', sig]);
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    child.kill(`SIG${sig}` as NodeJS.Signals);
    const r = await child;
    expect(r.stdout).toContain(`got-${sig}`);
    expect(r.exitCode).toBe(7);
  }, 30_000);

  it('--pid: own PID namespace, the payload under an init, signals still forwarded', async () => {
    const r = await sifAsUser(['exec', '--pid', image, 'sh', '-c', 'echo $$; cat /proc/1/cmdline | tr "\\0" " "']);
    expect(r.exitCode).toBe(0);
    const [pid, init] = r.stdout.split('\n');
    expect(Number(pid)).toBeLessThan(5);
    expect(init).toContain('sif-starter');
    const child = spawnAsUser(['exec', '--pid', image, 'sh', '-c', 'trap "exit 9" TERM; echo ready; while :; do sleep 0.05; done']);
    await new Promise<void>((resolve) => child.stdout!.on('data', () => resolve()));
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(9);
  }, 30_000);
});
