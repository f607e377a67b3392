import { readFile, readdir, open } from 'node:fs/promises';
import { describe, it, expect } from '@jest/globals';
import {
  openSif,
  readDescriptors,
  readSifHeader,
  readSifObject,
} from '../../../src/image/sif-reader.js';
import { SIF_DESCRIPTOR_SIZE, SIF_HEADER_SIZE, SifDataType, describeDescriptor, SifFsType, SifPartType } from '../../../src/image/sif-format.js';
import { renderListRow } from '../../../src/image/siftool-render.js';
import { expectSifErrorSync, fixture, fixtureDir } from './support.js';

/** Table rows of a `siftool list` golden (header row and rules dropped). */
function parseListGolden(text: string): string[] {
  return text.split('\n').filter((l) => l.includes('|') && !l.startsWith('ID '));
}

/** Key/value lines of a `siftool header` or `siftool info` golden. */
function parseKv(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

const files = await readdir(fixtureDir);
const listGoldens = files.filter((f) => /^[^.]+\.golden\.txt$/.test(f));
const headerGoldens = files.filter((f) => f.endsWith('.header.golden.txt'));
const infoGoldens = files.filter((f) => /\.info-id\d+\.golden\.txt$/.test(f));

describe('openSif on busybox_amd64.sif (real Singularity 3.8 image)', () => {
  it('parses the header', async () => {
    const { header, fileSize } = await openSif(fixture('busybox_amd64.sif'));
    expect(fileSize).toBe(792293);
    expect(header).toMatchObject({
      launchScript: '#!/usr/bin/env run-singularity\n',
      version: '01',
      archCode: '02',
      arch: 'amd64',
      id: '4f307b4c-58a8-4753-9c0f-21dceefed4a6',
      createdAt: 0x610842f0,
      modifiedAt: 0x610842f0,
      descriptorsFree: 43,
      descriptorsTotal: 48,
      descriptorsOffset: 4096,
      descriptorsSize: 48 * SIF_DESCRIPTOR_SIZE,
      dataOffset: 32768,
      dataSize: 0xb96e5,
    });
  });

  it('parses the five used descriptors', async () => {
    const { descriptors } = await openSif(fixture('busybox_amd64.sif'));
    expect(descriptors.map((d) => [d.id, d.dataTypeName, d.offset, d.offset + d.size])).toEqual([
      [1, 'Def.FILE', 32768, 32807],
      [2, 'JSON.Generic', 36864, 38760],
      [3, 'JSON.Generic', 40960, 41050],
      [4, 'FS', 45056, 790528],
      [5, 'Signature', 790528, 792293],
    ]);
    expect(descriptors[1]?.name).toBe('inspect-metadata.json');
    expect(descriptors[2]?.name).toBe('oci-config.json');
    const part = descriptors[3];
    expect(part).toMatchObject({
      dataType: SifDataType.Partition,
      name: 'squashfs-275937245',
      groupId: 1,
      linkedId: null,
      fsType: SifFsType.Squashfs,
      partType: SifPartType.PrimSys,
      archCode: '02',
      arch: 'amd64',
    });
    expect(describeDescriptor(part!)).toBe('FS (Squashfs/*System/amd64)');
    expect(descriptors[4]).toMatchObject({ groupId: null, linkedId: 1, linkedIsGroup: true, hashType: 1 });
  });

  it('accepts an open FileHandle and leaves it open', async () => {
    const fh = await open(fixture('busybox_amd64.sif'));
    try {
      const sif = await openSif(fh, 'busybox');
      expect(sif.path).toBe('busybox');
      expect(sif.descriptors).toHaveLength(5);
      const squashfsMagic = await readSifObject(fh, sif.descriptors[3]!, { maxBytes: 1 << 20 });
      expect(squashfsMagic.subarray(0, 4).toString('latin1')).toBe('hsqs');
    } finally {
      await fh.close();
    }
  });
});

describe('siftool goldens', () => {
  it('finds the goldens', () => {
    expect(listGoldens.length).toBeGreaterThanOrEqual(7);
  });

  it.each(listGoldens)('descriptors match siftool list %s', async (golden) => {
    const sif = await openSif(fixture(golden.replace('.golden.txt', '.sif')));
    const expected = parseListGolden(await readFile(fixture(golden), 'utf8'));
    expect(sif.descriptors.map((d) => renderListRow(d).replace(/\n$/, ''))).toEqual(expected);
  });

  it.each(headerGoldens)('header matches siftool header %s', async (golden) => {
    const { header } = await openSif(fixture(golden.replace('.header.golden.txt', '.sif')));
    const kv = parseKv(await readFile(fixture(golden), 'utf8'));
    expect(header.launchScript.trim() || undefined).toBe(kv.get('Launch Script'));
    expect(header.version).toBe(kv.get('Version'));
    expect(header.arch ?? undefined).toBe(kv.get('Primary Architecture'));
    expect(header.id ?? undefined).toBe(kv.get('ID'));
    expect(header.createdAt === null).toBe(!kv.has('Created At'));
    expect(String(header.descriptorsFree)).toBe(kv.get('Descriptors Free'));
    expect(String(header.descriptorsTotal)).toBe(kv.get('Descriptors Total'));
    expect(String(header.descriptorsOffset)).toBe(kv.get('Descriptors Offset'));
    expect(String(header.dataOffset)).toBe(kv.get('Data Offset'));
  });

  it.each(infoGoldens)('descriptor matches siftool info %s', async (golden) => {
    const [, name, id] = /^(.*)\.info-id(\d+)\.golden\.txt$/.exec(golden)!;
    const sif = await openSif(fixture(`${name}.sif`));
    const d = sif.descriptors.find((x) => x.id === Number(id))!;
    const kv = parseKv(await readFile(fixture(golden), 'utf8'));
    expect(d.dataTypeName).toBe(kv.get('Data Type'));
    expect(String(d.offset)).toBe(kv.get('Offset'));
    expect(String(d.size)).toBe(kv.get('Size'));
    if (kv.has('Name')) expect(d.name).toBe(kv.get('Name'));
    if (kv.has('Architecture')) expect(d.arch).toBe(kv.get('Architecture'));
    if (kv.has('Digest')) expect(d.extra.toString('latin1').replace(/\0+$/, '')).toBe(kv.get('Digest'));
  });

  it('object bytes match siftool dump', async () => {
    const sif = await openSif(fixture('one-group.sif'));
    for (const id of [1, 2]) {
      const bytes = await readSifObject(fixture('one-group.sif'), sif.descriptors.find((d) => d.id === id)!);
      expect(bytes.equals(await readFile(fixture(`one-group.dump-id${id}.golden.bin`)))).toBe(true);
    }
  });
});

describe('readSifHeader / readDescriptors on buffers', () => {
  it('rejects a buffer without the magic', () => {
    expectSifErrorSync(() => readSifHeader(Buffer.alloc(SIF_HEADER_SIZE), 'x.bin'), 'SIF_E_IMAGE_NOT_AN_IMAGE', 'x.bin', 'SIF_MAGIC');
  });

  it('rejects a short header and a wrong version', async () => {
    const head = (await readFile(fixture('empty.sif'))).subarray(0, SIF_HEADER_SIZE);
    expectSifErrorSync(() => readSifHeader(head.subarray(0, 60), 'short.sif'), 'SIF_E_IMAGE_TRUNCATED', 'short.sif');
    const bad = Buffer.from(head);
    bad.write('02', 42, 'latin1');
    expectSifErrorSync(() => readSifHeader(bad, 'v2.sif'), 'SIF_E_IMAGE_TRUNCATED', 'v2.sif', '"02"');
  });

  it('skips unused slots', async () => {
    const buf = await readFile(fixture('two-groups.sif'));
    const header = readSifHeader(buf);
    const table = buf.subarray(header.descriptorsOffset, header.descriptorsOffset + header.descriptorsSize);
    expect(readDescriptors(table, header.descriptorsTotal).map((d) => d.id)).toEqual([1, 2, 3]);
  });
});
