// The starter's read-ahead of the payload's program, the dynamic loader and the C
// library (native/starter/prefetch.c): it must fill the page cache, and files from
// the image that are not what they should be (a FIFO, a directory, a corrupt
// ld.so.cache) must never stop or hang a start.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ldCache } from '../support/ld-cache.js';
import { makeBusyboxRootfs, makeSquashfs } from '../support/squashfs.js';
import { requireHost, sifAsUser, testImagesDir, userTempDir } from '../support/unprivileged.js';

/** A busybox image whose loader and ld.so.cache are laid out by lay(root). */
async function hostileImage(name: string, lay: (root: string) => Promise<void>): Promise<string> {
  const dir = userTempDir(`sif-${name}-`);
  const root = join(dir, 'root');
  await makeBusyboxRootfs(root);
  mkdirSync(join(root, 'lib64'));
  await lay(root);
  const out = join(dir, `${name}.sqfs`);
  await makeSquashfs(root, out);
  return out;
}

const X86_64_LIBC6 = 0x0303;

beforeAll(() => requireHost());

// The paths and flags below are x86-64's (Debian's multiarch layout).
const onX64 = process.arch === 'x64' ? describe : describe.skip;

onX64('reading ahead at start-up', () => {
  it("the payload's program and the C library are wholly in the page cache soon after it starts", async () => {
    const image = join(testImagesDir(), 'python.sqfs');
    if (!existsSync(image)) throw new Error(`${image} is missing: scripts/test.sh builds it (scripts/base-rootfs.sh)`);
    // python3 (the program) hands over to a shell that polls fincore: the bytes of
    // each file in the page cache, then its size. Starting python reads only parts of
    // both files (in Debian's, about 5.1 of 6.8 MB and 1.7 of 1.9 MB).
    const script = `
      for i in $(seq 50); do
        whole=yes
        for f in /usr/bin/python3.11 /lib/x86_64-linux-gnu/libc.so.6; do
          set -- $(fincore --bytes --noheadings "$(readlink -f "$f")")
          [ "$1" -ge "$3" ] || { whole="$f: $1 of $3 bytes"; break; }
        done
        [ "$whole" = yes ] && { echo whole; exit 0; }
        sleep 0.02
      done
      echo "partial: $whole"`;
    const handOver = `import os; os.execvp('sh', ['sh', '-c', ${JSON.stringify(script)}])`;
    const r = await sifAsUser(['exec', image, 'python3', '-c', handOver]);
    expect(r.stdout).toBe('whole\n');
    expect(r.exitCode).toBe(0);
  });

  it.each([
    [
      'a FIFO as the loader, and a cache that names a FIFO as libc',
      async (root: string) => {
        await execa('mkfifo', [join(root, 'lib64', 'ld-linux-x86-64.so.2'), join(root, 'etc', 'libc-fifo')]);
        writeFileSync(join(root, 'etc', 'ld.so.cache'), ldCache([['libc.so.6', '/etc/libc-fifo', X86_64_LIBC6]]));
      },
    ],
    [
      'a directory as the loader, and a cache whose entry count lies',
      async (root: string) => {
        mkdirSync(join(root, 'lib64', 'ld-linux-x86-64.so.2'));
        const cache = ldCache([['libc.so.6', '/bin/busybox', X86_64_LIBC6]]);
        cache.writeUInt32LE(0xffffffff, 20); // entries (ld-cache.test.ts covers the reader itself)
        writeFileSync(join(root, 'etc', 'ld.so.cache'), cache);
      },
    ],
  ])('an image with %s starts as usual', async (_what, lay) => {
    const image = await hostileImage('prefetch', lay);
    const r = await sifAsUser(['exec', image, 'echo', 'ok'], { timeoutMs: 20_000 });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, 'ok\n', '']);
  });

  it('a command that is a FIFO in the image fails as not executable, without a hang', async () => {
    const image = await hostileImage('fifo-cmd', async (root) => {
      await execa('mkfifo', [join(root, 'bin', 'fifo-cmd')]);
    });
    const r = await sifAsUser(['exec', image, 'fifo-cmd'], { timeoutMs: 20_000 });
    expect(r.exitCode).toBe(126);
    expect(r.stderr).toMatch(/fifo-cmd: cannot execute/);
  });
});
