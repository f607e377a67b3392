import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { requireHost, sifAsUser, testImagesDir } from '../support/unprivileged.js';

const image = join(testImagesDir(), 'python.sqfs');

describe('a Debian image with python3', () => {
  beforeAll(() => {
    requireHost();
    if (!existsSync(image)) throw new Error(`${image} is missing: scripts/test.sh builds it (scripts/base-rootfs.sh)`);
  });

  it('runs python as the user, with the host home bound', async () => {
    const r = await sifAsUser(['exec', image, 'python3', '-c', 'import os, pwd; print(pwd.getpwuid(os.getuid()).pw_name, os.path.expanduser("~"), 6 * 7)']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('sif-test /home/sif-test 42\n');
  });

  it('sif shell starts a shell that reads stdin', async () => {
    const r = await sifAsUser(['shell', image], { input: 'echo $0 in-shell; exit 3\n' });
    expect(r.stdout).toMatch(/in-shell/);
    expect(r.exitCode).toBe(3);
  });
});

describe('the FUSE server under concurrent load', () => {
  it('serves several readers of one container at once, all reading the same bytes', async () => {
    // One echo per reader, so the lines cannot interleave.
    const reader = 'echo "$(tar cf - /usr 2>/dev/null | wc -c) $(find /usr | wc -l)"';
    const script = `for i in 1 2 3 4; do (${reader}) & done; wait`;
    const r = await sifAsUser(['exec', image, 'sh', '-c', script], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(new Set(lines).size).toBe(1);
    expect(Number(lines[0]!.split(' ')[0])).toBeGreaterThan(10_000_000);
  }, 180_000);
});
