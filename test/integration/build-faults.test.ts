// Bad input and interruptions: a clear error, no OUT and no temporary file left.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testImages, testRegistries } from '../support/registry.js';
import { requireHost, spawnAsUser, userId, userTempDir } from '../support/unprivileged.js';
import { buildAsUser, leftovers } from './build-support.js';

const images = testImages();
let out: string;
beforeAll(() => {
  requireHost();
  out = userTempDir('sif-build-faults-');
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('faults during sif build', () => {
  it('a truncated archive: clear error, nothing written', async () => {
    const dir = join(out, 'trunc');
    mkdirSync(dir);
    const archive = join(dir, 'small.tar');
    cpSync(images.ociArchive.small, archive);
    truncateSync(archive, 700_000);
    chmodSync(dir, 0o777);
    const r = await buildAsUser([join(dir, 'x.sif'), `oci-archive:${archive}:small`]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/truncated|runs past the end|missing/);
    expect(leftovers(dir, ['small.tar'])).toEqual([]);
  });

  it('a layer changed on disk: digest error naming the layer, nothing written', async () => {
    const layout = join(out, 'layout');
    cpSync(images.oci, layout, { recursive: true });
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const manifestDigest: string = index.manifests.find((m: any) => m.annotations?.['org.opencontainers.image.ref.name'] === 'small').digest;
    const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', manifestDigest.slice(7)), 'utf8'));
    const top: string = manifest.layers.at(-1).digest;
    const blob = join(layout, 'blobs/sha256', top.slice(7));
    const bytes = readFileSync(blob);
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0x55;
    writeFileSync(blob, bytes);
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    const r = await buildAsUser([join(out, 'tampered.sif'), `oci:${layout}:small`]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(top);
    expect(r.stderr).toMatch(/digest|corrupt|invalid/);
    expect(leftovers(out).filter((n) => n.includes('tampered'))).toEqual([]);
  }, 60_000);

  // With --quiet too: the interruption is why the exit status is not 0.
  it.each([[[]], [['--quiet']]])('Ctrl-C in the middle: exit 130, says so, no OUT, no temporary files %j', async (flags) => {
    const dir = userTempDir('sif-build-int-');
    const child = spawnAsUser(['build', ...flags, join(dir, 'py.sif'), `oci:${images.oci}:python`]);
    try {
      // Wait until the build has started writing its temporary squashfs.
      for (let i = 0; i < 200 && readdirSync(dir).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(readdirSync(dir).length).toBeGreaterThan(0);
      child.kill('SIGINT');
      const r = await child;
      expect(r.exitCode).toBe(130);
      expect(String(r.stderr)).toMatch(/^sif: error: build interrupted \(SIGINT\); .*py\.sif was not written$/m);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      child.kill('SIGKILL'); // when an expectation failed before the build ended
      await child;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a full disk: says so, leaves nothing behind', async () => {
    const mnt = join(out, 'small-fs');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=4m,uid=${userId().uid},mode=0700`, 'tmpfs', mnt]);
    try {
      const r = await buildAsUser([join(mnt, 'py.sif'), `oci:${images.oci}:python`]);
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toContain('no space left');
      expect(readdirSync(mnt)).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  }, 120_000);

  it('an unknown tag and a missing path are named', async () => {
    const a = await buildAsUser([join(out, 'a.sif'), `oci:${images.oci}:nope`]);
    expect(a.exitCode).toBe(125);
    expect(a.stderr).toContain('"nope"');
    expect(a.stderr).toContain('small');
    const b = await buildAsUser([join(out, 'b.sif'), 'oci:/no/such/dir']);
    expect(b.exitCode).toBe(125);
    expect(b.stderr).toContain('/no/such/dir');
    expect(existsSync(join(out, 'a.sif')) || existsSync(join(out, 'b.sif'))).toBe(false);
  });

  it('registry refusals: wrong password, unknown tag and repository, no CA', async () => {
    const reg = await testRegistries();
    const env = { SIF_CACHEDIR: join(out, 'cache') };
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--ca-cert', reg.caFile, '--username', reg.basic.user], { SIF_PASSWORD: 'wrong' }, new RegExp(`${reg.basic.host}.*(refused|denied|unauthorized|credentials)`, 'i')],
      [['--ca-cert', reg.caFile, '--username', reg.basic.user], { SIF_PASSWORD: reg.basic.password }, /nosuchtag/],
      [[], {}, /certificate|TLS/i],
    ];
    const refs = [`docker://${reg.basic.host}/sif/small:latest`, `docker://${reg.basic.host}/sif/small:nosuchtag`, `docker://${reg.basic.host}/sif/small:latest`];
    for (const [i, [flags, extra, message]] of cases.entries()) {
      const target = join(out, `refused-${i}.sif`);
      const r = await buildAsUser([...flags, target, refs[i]!], { env: { ...env, ...extra } });
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toMatch(message);
      expect(existsSync(target)).toBe(false);
    }
    const unknown = await buildAsUser(['--ca-cert', reg.caFile, '--username', reg.basic.user, join(out, 'u.sif'), `docker://${reg.basic.host}/sif/nosuchrepo:latest`],
      { env: { ...env, SIF_PASSWORD: reg.basic.password } });
    expect(unknown.exitCode).toBe(125);
    expect(unknown.stderr).toContain('sif/nosuchrepo');
    expect(leftovers(out).filter((n) => n.startsWith('.'))).toEqual([]);
  }, 60_000);
});
