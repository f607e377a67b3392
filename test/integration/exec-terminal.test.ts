import { join } from 'node:path';
import { FIXTURES, requireHost, runAsUser, SIF_BIN } from '../support/unprivileged.js';

const busybox = join(FIXTURES, 'sif', 'busybox_amd64.sif');

describe('the terminal', () => {
  beforeAll(() => requireHost());

  it('sif shell on a terminal: the shell sees the same pty on stdin and stdout, and its status comes back', async () => {
    // script(1) gives sif a real pseudo-terminal, as an interactive login would.
    const input = 'tty; test -t 0 && test -t 1 && echo both-ttys; exit 5\n';
    const r = await runAsUser('script', ['-qec', `${SIF_BIN} shell ${busybox}`, '/dev/null'], { input, timeoutMs: 30_000 });
    expect(r.stdout).toMatch(/^\/dev\/pts\/\d+\r?$/m);
    expect(r.stdout).toMatch(/^both-ttys\r?$/m);
    expect(r.exitCode).toBe(5);
  }, 60_000);
});
