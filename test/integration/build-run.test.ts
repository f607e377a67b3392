// What a user does with a built image: run it, exec in it, inspect it; rebuilds are
// reproducible; existing files are not overwritten by accident.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { testImages, testRegistries } from '../support/registry.js';
import { requireHost, sifAsUser, testImagesDir, userTempDir } from '../support/unprivileged.js';
import { buildAsUser } from './build-support.js';

const images = testImages();
let out: string;
let small: string;
beforeAll(async () => {
  requireHost();
  out = userTempDir('sif-build-run-');
  small = join(out, 'small.sif');
  const r = await buildAsUser([small, `oci:${images.oci}:small`]);
  if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr}`);
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('a built image', () => {
  it('runs ENTRYPOINT and CMD, and arguments replace CMD', async () => {
    expect((await sifAsUser(['run', small])).stdout).toBe('entry-ok\n');
    expect((await sifAsUser(['run', small, 'echo replaced'])).stdout).toBe('replaced\n');
  });

  it("has the image's environment, labels and files, owned by the caller inside", async () => {
    const r = await sifAsUser(['exec', small, 'sh', '-c', 'echo "$SIF_TEST_VAR"; cat /arch; stat -c "%U %a" /special/setuid']);
    expect(r.stdout).toBe('from-image\namd64\nsif-test 4755\n');
    const info = JSON.parse((await sifAsUser(['inspect', '--image-info', '--json', small])).stdout) as Record<string, any>;
    expect(info.arch).toBe('amd64');
    expect(info.rootfs.compression).toBe('zstd');
    expect(info.ociConfig.Cmd).toEqual(['echo entry-ok']);
    const attrs = JSON.parse((await sifAsUser(['inspect', '--json', '--labels', '--deffile', small])).stdout).data.attributes;
    expect(attrs.labels['org.sif.test']).toBe('yes');
    expect(attrs.deffile).toContain('BootStrap: oci');
  });

  it("is laid out as Apptainer lays out its images", async () => {
    const list = (await sifAsUser(['sif', 'list', small])).stdout;
    expect(list).toMatch(/1\s+\|1\s+\|NONE\s+\|\d+-\d+\s+\|Def\.FILE/);
    expect(list).toMatch(/JSON\.Generic/);
    expect(list).toMatch(/FS \(Squashfs\/\*System\/amd64\)/);
  });

  it('is byte for byte the same when rebuilt with SOURCE_DATE_EPOCH', async () => {
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const a = join(out, 'a.sif');
    expect((await buildAsUser([a, `oci-archive:${images.ociArchive.small}:small`], { env })).exitCode).toBe(0);
    const c = join(out, 'c.sif');
    expect((await buildAsUser([c, `oci-archive:${images.ociArchive.small}:small`], { env })).exitCode).toBe(0);
    expect(sha(a)).toBe(sha(c));
  }, 120_000);

  it('uses another compressor when asked', async () => {
    const gz = join(out, 'gzip.sif');
    expect((await buildAsUser(['--compress', 'gzip:9', gz, `oci:${images.oci}:small`])).exitCode).toBe(0);
    expect(JSON.parse((await sifAsUser(['inspect', '--image-info', '--json', gz])).stdout).rootfs.compression).toBe('gzip');
    const bad = await buildAsUser(['--compress', 'brotli', join(out, 'x.sif'), `oci:${images.oci}:small`]);
    expect(bad.exitCode).toBe(125);
    expect(bad.stderr).toContain('--compress "brotli"');
  });

  it('refuses to overwrite a file unless --force', async () => {
    const before = sha(small);
    const r = await buildAsUser([small, `oci:${images.oci}:small-arm64`, '--arch', 'arm64']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('already exists');
    expect(r.stderr).toContain('--force');
    expect(sha(small)).toBe(before);
  });

  it('records the architecture of an image chosen with --arch', async () => {
    const arm = join(out, 'arm.sif');
    expect((await buildAsUser(['--arch', 'arm64', arm, `oci:${images.oci}:multi`])).exitCode).toBe(0);
    expect(JSON.parse((await sifAsUser(['inspect', '--image-info', '--json', arm])).stdout).arch).toBe('arm64');
    const r = await sifAsUser(['exec', arm, 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/arm64/);
  });

  it('re-wraps a SIF or a squashfs without unpacking it', async () => {
    const again = join(out, 'again.sif');
    expect((await buildAsUser([again, small])).exitCode).toBe(0);
    expect((await sifAsUser(['run', again])).stdout).toBe('entry-ok\n');
    const py = join(out, 'py.sif');
    expect((await buildAsUser([py, join(testImagesDir(), 'python.sqfs')])).exitCode).toBe(0);
    expect((await sifAsUser(['exec', py, 'python3', '-c', 'print(6*7)'])).stdout).toBe('42\n');
  }, 120_000);
});

describe('sif pull', () => {
  it('names the image NAME_TAG.sif in the current directory, and a rebuild comes from the cache', async () => {
    const reg = await testRegistries();
    const env = { SIF_CACHEDIR: join(out, 'pull-cache'), SIF_PASSWORD: reg.basic.password };
    const args = ['pull', '--ca-cert', reg.caFile, '--username', reg.basic.user, `docker://${reg.basic.host}/sif/small:latest`];
    const r = await sifAsUser(args, { cwd: out, env });
    expect(r.stderr).toContain('small_latest.sif');
    expect((await sifAsUser(['run', join(out, 'small_latest.sif')])).stdout).toBe('entry-ok\n');
    // Offline, from the cache alone: same image.
    const again = await sifAsUser(['pull', '--offline', '--force', ...args.slice(1)], { cwd: out, env });
    expect(again.exitCode).toBe(0);
    const refused = await sifAsUser(['pull', join(out, 'x.sif'), `oci:${images.oci}:small`], { cwd: out });
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toContain('sif build');
  }, 60_000);
});

describe('building from a directory', () => {
  it('packs a tree the user made, as it is', async () => {
    const tree = join(out, 'tree');
    const mk = await sifAsUser(['exec', small, 'sh', '-c',
      `mkdir -p ${tree}/bin ${tree}/data && cp /bin/busybox ${tree}/bin/ && ln -s busybox ${tree}/bin/sh && echo payload > ${tree}/data/f && ln ${tree}/data/f ${tree}/data/g`], { cwd: out });
    expect(mk.exitCode).toBe(0);
    const sif = join(out, 'tree.sif');
    const r = await buildAsUser([sif, tree]);
    expect(r.stderr).toMatch(/wrote/);
    const run = await sifAsUser(['exec', sif, '/bin/sh', '-c', 'cat /data/g; /bin/busybox stat -c %h /data/f'], { cwd: out });
    expect(run.stdout).toBe('payload\n2\n');
  }, 60_000);
});
