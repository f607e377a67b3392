// The published package: `npm pack` on a copy of the checkout (its prepack step builds
// the bundles), then, as the unprivileged user, `npm install -g` of the tarball into an
// empty prefix with no registry access, and the installed `sif` builds and runs an image.
import { execFileSync } from 'node:child_process';
import { chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { testImages } from '../support/registry.js';
import { REPO_ROOT, requireHost, runAsUser, userId, userTempDir } from '../support/unprivileged.js';

let work: string;
let tarball: string;
beforeAll(() => {
  requireHost();
  // A copy of what git would check out, so that packing builds into the copy and never
  // replaces the files the other tests are running.
  work = mkdtempSync('/tmp/sif-pack-');
  const copy = join(work, 'src');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT })
    .toString()
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    mkdirSync(join(copy, dirname(f)), { recursive: true });
    try {
      cpSync(join(REPO_ROOT, f), join(copy, f));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // deleted, not yet committed
    }
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: copy, stdio: ['ignore', 'pipe', 'inherit'] })
    .toString()
    .trim()
    .split('\n')
    .pop()!;
  tarball = join(work, name);
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed tarball', () => {
  it('holds the bundles, the native sources and the bundled logger, and no build output', () => {
    const list = execFileSync('tar', ['tzf', tarball]).toString().split('\n');
    for (const f of ['dist/sif.cjs', 'dist/sif-exec.cjs', 'bin/sif.cjs', 'LICENSE', 'native/starter/main.c', 'native/starter/Makefile', 'scripts/install-native.sh', 'node_modules/pino/package.json']) {
      expect(list).toContain(`package/${f}`);
    }
    expect(list.filter((f) => /^package\/(native\/(.*\/)?build\/|src\/|test\/|bin\/sif$)/.test(f))).toEqual([]);
  });

  it('installs as the user into an empty prefix, offline, and the installed sif builds and runs an image', async () => {
    const { uid, gid } = userId();
    const prefix = userTempDir('sif-prefix-');
    const pkg = join(prefix, 'sif.tgz');
    cpSync(tarball, pkg);
    chownSync(pkg, uid, gid);

    const install = await runAsUser('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, pkg], { timeoutMs: 500_000 });
    expect(install.stderr).not.toMatch(/ERR!/);
    expect(install.exitCode).toBe(0);

    const sif = join(prefix, 'bin', 'sif');
    const version = await runAsUser(sif, ['--version']);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);

    const image = join(prefix, 'small.sif');
    const build = await runAsUser(sif, ['build', image, `oci:${testImages().oci}:small`], { timeoutMs: 300_000 });
    expect(build.stderr).toMatch(/^sif: wrote \S+small\.sif \([\d.]+ [KM]iB, amd64\)\n$/);
    expect(build.exitCode).toBe(0);
    const run = await runAsUser(sif, ['exec', image, 'sh', '-c', 'cat /arch; id -un']);
    expect(run).toMatchObject({ exitCode: 0, stdout: 'amd64\nsif-test\n' });
    rmSync(prefix, { recursive: true, force: true });
  }, 600_000);
});
