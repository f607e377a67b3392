import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, it, expect } from '@jest/globals';
import { SifDataType, SifFormatType, SifFsType, SifHashType, SifMessageType, SifPartType } from '../../../src/image/sif-format.js';
import { openSif, type SifDescriptor } from '../../../src/image/sif-reader.js';
import { writeSif, type SifObjectInput } from '../../../src/image/sif-writer.js';
import {
  dumpObject, findDescriptor, formatGoTime, readableSize, renderHeader, renderInfo, renderList, renderListRow,
} from '../../../src/image/siftool-render.js';
import { expectSifErrorSync, fixture, fixtureDir, makeTmpDir } from './support.js';

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

describe("every data type's extra column, in a SIF the writer makes (siftool's info.go rules)", () => {
  const squashfs = fixture('one-group.dump-id2.golden.bin');
  const fp = Buffer.from('0123456789ABCDEF0123456789ABCDEF01234567', 'hex');
  const sboms = [1, 2, 3, 4, 5, 6, 7, 8, 99];
  const objects: SifObjectInput[] = [
    { type: 'deffile', data: Buffer.from('BootStrap: docker\nFrom: alpine\n') },
    { type: 'generic-json', name: 'oci-config.json', data: Buffer.from('{}') },
    { type: 'generic', data: Buffer.from('raw') },
    { type: 'partition', data: { path: squashfs }, arch: 'amd64' },
    { type: 'partition', data: Buffer.alloc(8), fsType: SifFsType.Ext3, partType: SifPartType.Data, arch: 'arm64', groupId: 2 },
    { type: 'signature', data: Buffer.from('sig'), hashType: SifHashType.SHA384, fingerprint: fp, groupId: null, link: { group: 1 } },
    { type: 'signature', data: Buffer.from('x509 sig'), hashType: SifHashType.BLAKE2b256, groupId: null, link: { id: 4 } },
    { type: 'crypto-message', data: Buffer.from('pem'), formatType: SifFormatType.PEM, messageType: SifMessageType.RSAOAEP },
    { type: 'crypto-message', data: Buffer.from('?'), formatType: 7, messageType: 0x300 },
    ...sboms.map((format): SifObjectInput => ({ type: 'sbom', data: Buffer.from(`sbom ${format}`), format })),
    { type: 'oci-root-index', data: Buffer.from('{"schemaVersion":2}') },
    { type: 'oci-blob', data: Buffer.from('blob') },
  ];
  let path: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const tmp = await makeTmpDir();
    cleanup = tmp.cleanup;
    path = join(tmp.dir, 'all-types.sif');
    await writeSif(path, objects, { deterministic: true });
  });
  afterAll(() => cleanup());

  it('list: the TYPE column of each', async () => {
    const rows = renderList(await openSif(path)).split('\n').slice(3, -1);
    expect(rows.map((r) => r.slice(0, 23))).toEqual([
      '1    |1       |NONE    ', '2    |1       |NONE    ', '3    |1       |NONE    ', '4    |1       |NONE    ', '5    |2       |NONE    ',
      '6    |NONE    |1   (G) ', '7    |NONE    |4       ', ...Array.from({ length: 13 }, (_, i) => `${String(i + 8).padEnd(4)} |1       |NONE    `),
    ]);
    expect(rows.map((r) => r.slice(r.lastIndexOf(' |') + 2))).toEqual([
      'Def.FILE', 'JSON.Generic', 'Generic/Raw', 'FS (Squashfs/*System/amd64)', 'FS (Ext3/Data/arm64)', 'Signature (SHA-384)',
      'Signature (BLAKE2b-256)', 'Cryptographic Message (PEM/RSA-OAEP)', 'Cryptographic Message (Unknown/Unknown)',
      'SBOM (cyclonedx-json)', 'SBOM (cyclonedx-xml)', 'SBOM (github-json)', 'SBOM (spdx-json)', 'SBOM (spdx-rdf)', 'SBOM (spdx-tag-value)',
      'SBOM (spdx-yaml)', 'SBOM (syft-json)', 'SBOM (unknown)', 'OCI.RootIndex', 'OCI.Blob',
    ]);
  });

  it('info: partition, signature with and without a key, crypto message, SBOM, OCI digests, generic JSON', async () => {
    const sif = await openSif(path);
    const info = (id: number): string[] => renderInfo(findDescriptor(sif, id)).split('\n').slice(6, -1).map((l) => l.trim().replace(/ {2,}/g, ' '));
    expect(info(2)).toEqual(['Name: oci-config.json']);
    expect(info(4)).toEqual(['Filesystem Type: Squashfs', 'Partition Type: *System', 'Architecture: amd64']);
    expect(info(5)).toEqual(['Filesystem Type: Ext3', 'Partition Type: Data', 'Architecture: arm64']);
    expect(info(6)).toEqual(['Hash Type: SHA-384', 'Entity: 0123456789ABCDEF0123456789ABCDEF01234567']);
    expect(info(7)).toEqual(['Hash Type: BLAKE2b-256']); // no key fingerprint: no Entity line
    expect(info(8)).toEqual(['Format Type: PEM', 'Message Type: RSA-OAEP']);
    expect(info(9)).toEqual(['Format Type: Unknown', 'Message Type: Unknown']);
    expect(info(10)).toEqual(['Format: cyclonedx-json']);
    expect(info(17)).toEqual(['Format: syft-json']);
    expect(info(18)).toEqual(['Format: unknown']);
    const sha = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;
    expect(info(19)).toEqual([`Digest: ${sha('{"schemaVersion":2}')}`]);
    expect(info(20)).toEqual([`Digest: ${sha('blob')}`]);
    expect(renderInfo(findDescriptor(sif, 7))).toBe(
      '  Data Type:  Signature\n  ID:         7\n  Group ID:   NONE\n  Linked ID:  4\n' +
        `  Offset:     ${findDescriptor(sif, 7).offset}\n  Size:       8\n  Hash Type:  BLAKE2b-256\n`,
    );
  });

  it('a signature with a hash type SIF does not define: siftool leaves the list row open and info fails', async () => {
    const tmp = await makeTmpDir();
    try {
      const out = join(tmp.dir, 'bad-hash.sif');
      await writeSif(out, [{ type: 'signature', data: Buffer.from('s'), hashType: 9 }, { type: 'generic', data: Buffer.from('g') }], { deterministic: true });
      const sif = await openSif(out);
      expect(renderList(sif).split('\n').slice(3)).toEqual([
        '1    |1       |NONE    |32176-32177               2    |1       |NONE    |32177-32178               |Generic/Raw', '',
      ]);
      expectSifErrorSync(() => renderInfo(findDescriptor(sif, 1)), 'SIF_E_IMAGE_CORRUPT', 'hash type 9');
    } finally {
      await tmp.cleanup();
    }
  });

  it('an OCI digest that is not sha256 and 64 hex digits: info fails, as siftool does', () => {
    const extra = Buffer.alloc(384);
    extra.write('sha512:abc');
    expectSifErrorSync(() => renderInfo(desc({ dataType: SifDataType.OCIBlob, dataTypeName: 'OCI.Blob', extra })), 'SIF_E_IMAGE_CORRUPT', '"sha512:abc"');
  });

  it('an unknown data type is "Unknown" in both', () => {
    const d = desc({ dataType: 0x4100, dataTypeName: 'Unknown(0x4100)' });
    expect(renderInfo(d).split('\n')[0]).toBe('  Data Type:  Unknown');
    expect(renderListRow(d)).toMatch(/ \|Unknown\n$/);
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
