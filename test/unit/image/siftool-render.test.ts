import { readFile, readdir } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { describe, it, expect } from '@jest/globals';
import { SifDataType } from '../../../src/image/sif-format.js';
import { openSif, type SifDescriptor } from '../../../src/image/sif-reader.js';
import {
  dumpObject, findDescriptor, formatGoTime, readableSize, renderHeader, renderInfo, renderList,
} from '../../../src/image/siftool-render.js';
import { expectSifErrorSync, fixture, fixtureDir } from './support.js';

const files = await readdir(fixtureDir);
const listGoldens = files.filter((f) => /^[^.]+\.golden\.txt$/.test(f));
const headerGoldens = files.filter((f) => f.endsWith('.header.golden.txt'));
const infoGoldens = files.filter((f) => /\.info-id\d+\.golden\.txt$/.test(f));

/** A Writable that keeps everything written to it. */
function sink(): { out: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { out, bytes: () => Buffer.concat(chunks) };
}

describe('siftool goldens, byte for byte', () => {
  it('finds every kind of golden', () => {
    expect([listGoldens.length, headerGoldens.length, infoGoldens.length]).toEqual([8, 8, 5]);
  });

  it.each(listGoldens)('list %s', async (golden) => {
    const sif = await openSif(fixture(golden.replace('.golden.txt', '.sif')));
    expect(renderList(sif)).toBe(await readFile(fixture(golden), 'utf8'));
  });

  it.each(headerGoldens)('header %s', async (golden) => {
    const sif = await openSif(fixture(golden.replace('.header.golden.txt', '.sif')));
    expect(renderHeader(sif.header)).toBe(await readFile(fixture(golden), 'utf8'));
  });

  it.each(infoGoldens)('info %s', async (golden) => {
    const [, name, id] = /^(.*)\.info-id(\d+)\.golden\.txt$/.exec(golden)!;
    const sif = await openSif(fixture(`${name}.sif`));
    expect(renderInfo(findDescriptor(sif, Number(id)))).toBe(await readFile(fixture(golden), 'utf8'));
  });

  it.each([1, 2])('dump %i of one-group.sif', async (id) => {
    const path = fixture('one-group.sif');
    const { out, bytes } = sink();
    await dumpObject(path, findDescriptor(await openSif(path), id), out);
    expect(bytes().equals(await readFile(fixture(`one-group.dump-id${id}.golden.bin`)))).toBe(true);
  });
});

/** A descriptor as the reader would return it, for shapes no fixture has. */
function desc(over: Partial<SifDescriptor>): SifDescriptor {
  return {
    id: 1, dataType: SifDataType.GenericJSON, dataTypeName: 'JSON.Generic', groupId: 1, linkedId: null, linkedIsGroup: false,
    offset: 32176, size: 2, sizeWithPadding: 2, createdAt: null, modifiedAt: null, name: '', extra: Buffer.alloc(384), ...over,
  };
}

describe('shapes from upstream goldens without a fixture', () => {
  it('info with times (TestApp_Info/Time.golden)', () => {
    const d = desc({ offset: 32768, createdAt: 1593475316, modifiedAt: 1593475316, name: 'data.json' });
    expect(renderInfo(d)).toBe(
      '  Data Type:    JSON.Generic\n  ID:           1\n  Group ID:     1\n  Linked ID:    NONE\n  Offset:       32768\n  Size:         2\n' +
        '  Created At:   2020-06-30 00:01:56 +0000 UTC\n  Modified At:  2020-06-30 00:01:56 +0000 UTC\n  Name:         data.json\n',
    );
  });

  it('info of an SBOM and a crypto message (TestApp_Info/{SBOM,CryptMessage}.golden)', () => {
    const sbom = Buffer.alloc(384);
    sbom.writeInt32LE(1, 0);
    expect(renderInfo(desc({ dataType: SifDataType.SBOM, dataTypeName: 'SBOM', size: 454, extra: sbom }))).toBe(
      '  Data Type:  SBOM\n  ID:         1\n  Group ID:   1\n  Linked ID:  NONE\n  Offset:     32176\n  Size:       454\n  Format:     cyclonedx-json\n',
    );
    const cm = Buffer.alloc(384);
    cm.writeInt32LE(1, 0);
    cm.writeInt32LE(0x100, 4);
    expect(renderInfo(desc({ dataType: SifDataType.CryptoMessage, dataTypeName: 'Cryptographic Message', offset: 32768, size: 4, extra: cm }))).toBe(
      '  Data Type:     Cryptographic Message\n  ID:            1\n  Group ID:      1\n  Linked ID:     NONE\n  Offset:        32768\n' +
        '  Size:          4\n  Format Type:   OpenPGP\n  Message Type:  Clear Signature\n',
    );
  });

  it('header with times (TestApp_Header/EmptyTime.golden)', async () => {
    const { header } = await openSif(fixture('empty.sif'));
    expect(renderHeader({ ...header, createdAt: 1593475316, modifiedAt: 1593475316 })).toBe(
      'Version:            01\nCreated At:         2020-06-30 00:01:56 +0000 UTC\nModified At:        2020-06-30 00:01:56 +0000 UTC\n' +
        'Descriptors Free:   48\nDescriptors Total:  48\nDescriptors Offset: 4096\nDescriptors Size:   27 KiB\nData Offset:        32176\nData Size:          0 B\n',
    );
  });

  it('pads positions wider than the column as Go does', async () => {
    const sif = await openSif(fixture('empty.sif'));
    const big = desc({ id: 12, offset: 123456789012, size: 123456789012 });
    const text = renderList({ ...sif, descriptors: [big] });
    expect(text.split('\n')[3]).toBe('12   |1       |NONE    |123456789012-246913578024  |JSON.Generic');
  });
});

describe('readableSize and formatGoTime', () => {
  it.each([
    [0, '0 B'], [1023, '1023 B'], [-1023, '-1023 B'], [1024, '1 KiB'], [1535, '1 KiB'], [1536, '2 KiB'], [28080, '27 KiB'],
    [8784, '9 KiB'], [262144 + 8784, '265 KiB'], [1048575, '1024 KiB'], [1048576, '1 MiB'], [5 * 2 ** 30, '5 GiB'], [-1536, '-2 KiB'],
  ])('readableSize(%d) = %s', (n, s) => {
    expect(readableSize(n)).toBe(s);
  });

  it('formats like Go time.Time.UTC().String()', () => {
    expect(formatGoTime(0)).toBe('1970-01-01 00:00:00 +0000 UTC');
    expect(formatGoTime(1590175859)).toBe('2020-05-22 19:30:59 +0000 UTC');
  });
});

describe('findDescriptor', () => {
  it('names the missing ID and the IDs that exist', async () => {
    const sif = await openSif(fixture('one-group.sif'));
    expectSifErrorSync(() => findDescriptor(sif, 7), 'SIF_E_IMAGE_NO_OBJECT', 'ID 7', 'IDs present: 1, 2');
    const empty = await openSif(fixture('empty.sif'));
    expectSifErrorSync(() => findDescriptor(empty, 1), 'SIF_E_IMAGE_NO_OBJECT', 'no objects');
  });
});
