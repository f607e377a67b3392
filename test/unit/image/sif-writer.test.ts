import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, expect } from '@jest/globals';
import { openImage } from '../../../src/image/open-image.js';
import { SIF_ZERO_TIME, SifDataType, SifFsType, SifHashType, SifPartType } from '../../../src/image/sif-format.js';
import { openSif, readSifObject } from '../../../src/image/sif-reader.js';
import { SIF_DATA_OFFSET, buildApptainerObjects, writeSif, type SifObjectInput } from '../../../src/image/sif-writer.js';
import { expectSifError, fixture, makeTmpDir } from './support.js';

const squashfs = fixture('one-group.dump-id2.golden.bin'); // 4096-byte squashfs with hello.txt
const deffile = Buffer.from('BootStrap: docker\nFrom: busybox:1.36\n');
const ociConfig = { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] };

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
afterEach(() => cleanup());

const apptainerObjects = (): SifObjectInput[] =>
  buildApptainerObjects({
    deffile,
    json: { 'oci-config.json': ociConfig, 'inspect-metadata.json': '{"type":"container"}' },
    rootfs: { path: squashfs, size: 4096 },
    arch: 'amd64',
  });

describe('writeSif: an Apptainer-shaped image', () => {
  it('lays objects out per the writer rules and reads back', async () => {
    const out = join(dir, 'app.sif');
    const res = await writeSif(out, apptainerObjects());
    const sif = await openSif(out);
    const j1 = SIF_DATA_OFFSET + deffile.length;
    const j2 = j1 + '{"type":"container"}'.length;
    const part = Math.ceil((j2 + JSON.stringify(ociConfig).length) / 4096) * 4096;
    expect(sif.descriptors.map((d) => [d.id, d.dataType, d.name, d.offset, d.groupId, d.linkedId])).toEqual([
      [1, SifDataType.Deffile, '', SIF_DATA_OFFSET, 1, null],
      [2, SifDataType.GenericJSON, 'inspect-metadata.json', j1, 1, null],
      [3, SifDataType.GenericJSON, 'oci-config.json', j2, 1, null],
      [4, SifDataType.Partition, '', part, 1, null],
    ]);
    const p = sif.descriptors[3]!;
    expect(p).toMatchObject({ size: 4096, fsType: SifFsType.Squashfs, partType: SifPartType.PrimSys, arch: 'amd64', archCode: '02' });
    expect(p.sizeWithPadding).toBe(part - (j2 + JSON.stringify(ociConfig).length) + 4096);
    expect(sif.descriptors.slice(0, 3).every((d) => d.sizeWithPadding === d.size)).toBe(true);
    expect(sif.header).toMatchObject({
      launchScript: '#!/usr/bin/env run-singularity\n', archCode: '02', arch: 'amd64', descriptorsFree: 44, descriptorsTotal: 48,
      descriptorsOffset: 4096, dataOffset: 32176, dataSize: part + 4096 - 32176,
    });
    expect(sif.header.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Math.abs(sif.header.createdAt! - Date.now() / 1000)).toBeLessThan(60);
    expect(sif.descriptors.every((d) => d.createdAt === sif.header.createdAt && d.modifiedAt === sif.header.createdAt)).toBe(true);
    expect(sif.fileSize).toBe(part + 4096);
    expect(res).toEqual({ path: out, fileSize: part + 4096, objects: sif.descriptors.map((d) => ({ id: d.id, offset: d.offset, size: d.size })) });
    expect((await readSifObject(out, p)).equals(await readFile(squashfs))).toBe(true);
    expect(JSON.parse((await readSifObject(out, sif.descriptors[2]!)).toString())).toEqual(ociConfig);
    expect((await stat(out)).mode & 0o111).not.toBe(0);

    const img = await openImage(out);
    expect(img).toMatchObject({ format: 'sif', rootfsOffset: part, rootfsSize: 4096, arch: 'amd64', compression: 'gzip' });
  });

  it('streams a partition larger than the copy buffer', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    const src = join(dir, 'big.img');
    await writeFile(src, big);
    const out = join(dir, 'big.sif');
    await writeSif(out, [{ type: 'partition', data: { path: src }, fsType: SifFsType.Raw, partType: SifPartType.Data, arch: 'amd64' }]);
    const sif = await openSif(out);
    expect(sif.header.archCode).toBe('00'); // no PrimSys partition
    expect((await readSifObject(out, sif.descriptors[0]!, { maxBytes: big.length })).equals(big)).toBe(true);
  });

  it('orders JSON objects by name and leaves the deffile out when not given', () => {
    const objs = buildApptainerObjects({ json: { b: '{}', a: Buffer.from('[]'), 'B': {} }, rootfs: Buffer.alloc(1), arch: 'arm64', rootfsName: 'rootfs' });
    expect(objs.map((o) => [o.type, o.name])).toEqual([['generic-json', 'B'], ['generic-json', 'a'], ['generic-json', 'b'], ['partition', 'rootfs']]);
  });

  it('is reproducible with SOURCE_DATE_EPOCH: nil UUID, that time, identical bytes', async () => {
    const [a, b] = [join(dir, 'a.sif'), join(dir, 'b.sif')];
    await writeSif(a, apptainerObjects(), { sourceDateEpoch: 1700000000 });
    await writeSif(b, apptainerObjects(), { sourceDateEpoch: 1700000000 });
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
    const { header, descriptors } = await openSif(a);
    expect([header.id, header.createdAt, header.modifiedAt, descriptors[0]!.createdAt]).toEqual([null, 1700000000, 1700000000, 1700000000]);
  });

  it('gives each default-mode image its own UUID; `id` forces one', async () => {
    await writeSif(join(dir, 'a.sif'), []);
    await writeSif(join(dir, 'b.sif'), []);
    await writeSif(join(dir, 'c.sif'), [], { deterministic: true, id: '4f307b4c-58a8-4753-9c0f-21dceefed4a6' });
    const ids = await Promise.all(['a', 'b', 'c'].map(async (n) => (await openSif(join(dir, `${n}.sif`))).header.id));
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[2]).toBe('4f307b4c-58a8-4753-9c0f-21dceefed4a6');
  });
});

describe('writeSif reproduces the upstream test images (deterministic mode)', () => {
  const same = async (objects: SifObjectInput[], name: string, launchScript = ''): Promise<void> => {
    const out = join(dir, name);
    await writeSif(out, objects, { deterministic: true, launchScript });
    expect((await readFile(out)).equals(await readFile(fixture(name)))).toBe(true);
  };

  it('empty.sif: 32176 bytes, nil UUID, zero times', async () => {
    await same([], 'empty.sif');
    const { header, fileSize } = await openSif(join(dir, 'empty.sif'));
    expect([fileSize, header.id, header.createdAt, header.archCode]).toEqual([32176, null, null, '00']);
  });

  it('empty-launch-script.sif', () => same([], 'empty-launch-script.sif', '#!/usr/bin/env run-script\n'));

  it('one-object-generic-json.sif (unaligned object)', () =>
    same([{ type: 'generic-json', name: 'data.json', data: Buffer.from('{}') }], 'one-object-generic-json.sif'));

  it('one-group.sif and two-groups.sif (aligned partitions, header arch from PrimSys)', async () => {
    const raw: SifObjectInput = { type: 'partition', data: Buffer.from('facefeed', 'hex'), fsType: SifFsType.Raw, partType: SifPartType.System, arch: '386' };
    const prim: SifObjectInput = { type: 'partition', data: { path: squashfs }, fsType: SifFsType.Squashfs, partType: SifPartType.PrimSys, arch: '386' };
    await same([raw, prim], 'one-group.sif');
    const src = fixture('two-groups.sif');
    const ext3 = await readSifObject(src, (await openSif(src)).descriptors[2]!);
    const ext3Path = join(dir, 'root.ext3');
    await writeFile(ext3Path, ext3);
    await same([raw, prim, { type: 'partition', data: { path: ext3Path }, fsType: SifFsType.Ext3, partType: SifPartType.System, arch: 'amd64', groupId: 2 }], 'two-groups.sif');
  });

  it('one-object-oci-blob.sif (the blob digest in the Extra) and one-group-signed-pgp.sif (a signature of group 1, in no group)', async () => {
    const blob = fixture('one-object-oci-blob.sif');
    await same([{ type: 'oci-blob', data: await readSifObject(blob, (await openSif(blob)).descriptors[0]!) }], 'one-object-oci-blob.sif');
    const signed = fixture('one-group-signed-pgp.sif');
    const [raw, prim, sig] = (await openSif(signed)).descriptors;
    const fp = Buffer.from('12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84', 'hex');
    await same([
      { type: 'partition', data: await readSifObject(signed, raw!), fsType: SifFsType.Raw, partType: SifPartType.System, arch: '386' },
      { type: 'partition', data: await readSifObject(signed, prim!), fsType: SifFsType.Squashfs, partType: SifPartType.PrimSys, arch: '386' },
      { type: 'signature', data: await readSifObject(signed, sig!), hashType: SifHashType.SHA256, fingerprint: fp, groupId: null, link: { group: 1 } },
    ], 'one-group-signed-pgp.sif');
  });

  it('stores Go zero time in every time field', async () => {
    const out = join(dir, 'z.sif');
    await writeSif(out, [{ type: 'deffile', data: deffile }], { deterministic: true });
    const buf = await readFile(out);
    for (const at of [64, 72, 4096 + 41, 4096 + 49]) expect(Number(buf.readBigInt64LE(at))).toBe(SIF_ZERO_TIME);
  });
});

describe('writeSif failures leave nothing behind', () => {
  const listing = (): Promise<string[]> => readdir(dir);

  it('a missing partition source', async () => {
    const out = join(dir, 'out.sif');
    const objs = buildApptainerObjects({ deffile, rootfs: { path: join(dir, 'nope.squashfs') }, arch: 'amd64' });
    await expectSifError(writeSif(out, objs), 'SIF_E_IMAGE_WRITE', out, 'nope.squashfs', 'ENOENT');
    expect(await listing()).toEqual([]);
  });

  it('a partition source whose size changed', async () => {
    const objs = buildApptainerObjects({ rootfs: { path: squashfs, size: 8192 }, arch: 'amd64' });
    await expectSifError(writeSif(join(dir, 'out.sif'), objs), 'SIF_E_IMAGE_WRITE', 'is 4096 bytes, expected 8192');
    expect(await listing()).toEqual([]);
  });

  it('a failure after the data is written (rename onto a directory) removes the temp file', async () => {
    const out = join(dir, 'taken.sif');
    await mkdir(out);
    await writeFile(join(out, 'keep'), 'x');
    await expectSifError(writeSif(out, apptainerObjects()), 'SIF_E_IMAGE_WRITE', out, 'renaming');
    expect(await listing()).toEqual(['taken.sif']);
  });

  it('an existing OUT is replaced whole on success and kept on failure', async () => {
    const out = join(dir, 'img.sif');
    await writeFile(out, 'old');
    await expectSifError(writeSif(out, [{ type: 'deffile', data: deffile }], { launchScript: 'x'.repeat(32) }), 'SIF_E_IMAGE_BAD_OBJECT', 'launch script');
    expect(await readFile(out, 'utf8')).toBe('old');
    await writeSif(out, [{ type: 'deffile', data: deffile }]);
    expect((await openSif(out)).descriptors).toHaveLength(1);
    expect(await listing()).toEqual(['img.sif']);
  });

  it('refuses bad objects', async () => {
    const out = join(dir, 'x.sif');
    const p = (arch: string): SifObjectInput => ({ type: 'partition', data: Buffer.alloc(4), arch });
    await expectSifError(writeSif(out, [p('amd64'), p('amd64')]), 'SIF_E_IMAGE_BAD_OBJECT', '2 primary system partitions');
    await expectSifError(writeSif(out, [p('vax')]), 'SIF_E_IMAGE_BAD_OBJECT', '"vax"');
    await expectSifError(writeSif(out, Array.from({ length: 49 }, () => ({ type: 'deffile' as const, data: deffile }))), 'SIF_E_IMAGE_BAD_OBJECT', '48');
    await expectSifError(writeSif(out, [{ type: 'generic-json', name: 'n'.repeat(129), data: deffile }]), 'SIF_E_IMAGE_BAD_OBJECT', 'name');
    await expectSifError(writeSif(out, [{ type: 'deffile', data: deffile, groupId: 0x10000000 }]), 'SIF_E_IMAGE_BAD_OBJECT', 'bad group');
    expect(await listing()).toEqual([]);
  });
});
