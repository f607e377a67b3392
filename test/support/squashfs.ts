// Small test images made with the real squashfs-tools, so tests do not depend on sif's
// own writer to produce their inputs.
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/** Packs dir into the squashfs image out (replacing it), keeping ownership and modes. */
export async function makeSquashfs(dir: string, out: string): Promise<void> {
  await execa('mksquashfs', [dir, out, '-noappend', '-quiet', '-comp', 'gzip']);
}

const BUSYBOX_APPLETS = [
  'sh', 'id', 'cat', 'echo', 'ls', 'sleep', 'touch', 'mkdir', 'env', 'stat',
  'true', 'false', 'kill', 'pwd', 'readlink', 'test',
] as const;

/**
 * Lays out a tiny root filesystem in dir (created if needed): a static busybox with the
 * usual applets linked to it, minimal passwd/group, and empty mount points.
 */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  for (const sub of ['bin', 'etc', 'proc', 'sys', 'dev']) {
    await mkdir(join(dir, sub), { recursive: true, mode: 0o755 });
  }
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await chmod(join(dir, 'tmp'), 0o1777);

  // busybox-static's binary needs no libraries from the image.
  await copyFile('/bin/busybox', join(dir, 'bin', 'busybox'));
  await chmod(join(dir, 'bin', 'busybox'), 0o755);
  for (const applet of BUSYBOX_APPLETS) {
    await symlink('busybox', join(dir, 'bin', applet));
  }

  await writeFile(
    join(dir, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    { mode: 0o644 },
  );
  await writeFile(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n', { mode: 0o644 });
}
