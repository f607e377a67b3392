// `sif inspect` as Apptainer's, run as the unprivileged user: the selectors, the JSON
// shape, and the same answers from a SIF's metadata and from a plain squashfs's own
// /.singularity.d.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openImage } from '../../src/image/open-image.js';
import { testImages } from '../support/registry.js';
import { FIXTURES, requireHost, sifAsUser, userTempDir } from '../support/unprivileged.js';
import { buildAsUser } from './build-support.js';

let out: string;
let sif: string;
let plain: string;
beforeAll(async () => {
  requireHost();
  out = userTempDir('sif-inspect-');
  sif = join(out, 'small.sif');
  const r = await buildAsUser([sif, `oci:${testImages().oci}:small`]);
  if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr}`);
  // The same root filesystem as a plain squashfs: what inspect finds must come from /.singularity.d.
  const info = openImage(sif);
  plain = join(out, 'small.sqfs');
  writeFileSync(plain, readFileSync(sif).subarray(info.rootfsOffset, info.rootfsOffset + info.rootfsSize), { mode: 0o644 });
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function inspect(...args: string[]): Promise<string> {
  const r = await sifAsUser(['inspect', ...args]);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return r.stdout;
}
const attributes = async (...args: string[]) => {
  const j = JSON.parse(await inspect('--json', ...args));
  expect(j.type).toBe('container');
  return j.data.attributes as Record<string, any>;
};

describe('sif inspect', () => {
  it('prints the labels by default, as KEY: VALUE lines', async () => {
    const text = await inspect(sif);
    expect(text).toMatch(/^org\.sif\.test: yes$/m);
    expect(text).toMatch(/^org\.label-schema\.usage\.singularity\.deffile\.bootstrap: oci$/m);
  });

  it('prints each selector in Apptainer\'s JSON shape, from a SIF and from a plain squashfs alike', async () => {
    for (const image of [sif, plain]) {
      expect(Object.keys(await attributes(image))).toEqual(['labels']);
      expect((await attributes('--runscript', image)).runscript).toContain("'echo entry-ok'");
      expect((await attributes('--startscript', image)).startscript).toBe('#!/bin/sh');
      expect((await attributes('--deffile', image)).deffile).toMatch(/^BootStrap: oci\nFrom: /);
      const env = (await attributes('--environment', image)).environment;
      expect(Object.keys(env)).toEqual(['/.singularity.d/env/10-docker2singularity.sh', '/.singularity.d/env/90-environment.sh']);
      expect(env['/.singularity.d/env/10-docker2singularity.sh']).toContain("export SIF_TEST_VAR='from-image'");
      expect(await attributes('--test', '--helpfile', image)).toEqual({});
    }
    expect(await inspect('--all', plain)).toBe(await inspect('--all', sif));
  }, 60_000);

  it("prints the environment as Apptainer's === PATH === sections", async () => {
    expect(await inspect('--environment', plain)).toMatch(/^=== \/\.singularity\.d\/env\/10-docker2singularity\.sh ===\n#!\/bin\/sh\n[^]*SIF_TEST_VAR[^]*\n\n=== \/\.singularity\.d\/env\/90-environment\.sh ===\n/);
  });

  it("reads the Apptainer-built busybox image's definition file and runscript", async () => {
    const busybox = join(FIXTURES, 'sif', 'busybox_amd64.sif');
    expect(await inspect('--deffile', busybox)).toBe('BootStrap: docker\nFrom: busybox:1.33.1\n');
    expect(await inspect('-r', busybox)).toMatch(/^#!\/bin\/sh\nOCI_ENTRYPOINT=''\n[^]*exec "\$@"\n$/);
  });

  it("keeps sif's own summary under --image-info", async () => {
    expect(await inspect('--image-info', plain)).toMatch(/^format: +squashfs$/m);
  });
});
