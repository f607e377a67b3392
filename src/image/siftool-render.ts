/**
 * Text output of `siftool list|header|info` (apptainer/sif internal/app/siftool/info.go),
 * byte for byte, so `sif sif ...` can stand in for `apptainer sif ...` in scripts and tests.
 * Go's text/tabwriter and time formatting are reproduced for the shapes siftool uses.
 */
import { createReadStream } from 'node:fs';
import { SifError } from '../errors.js';
import {
  SIF_CRYPTO_EXTRA, SIF_DATA_TYPE_NAMES, SIF_FORMAT_TYPE_NAMES, SIF_FS_TYPE_NAMES, SIF_HASH_TYPE_NAMES, SIF_MESSAGE_TYPE_NAMES,
  SIF_OCI_EXTRA, SIF_PART_TYPE_NAMES, SIF_SBOM_EXTRA, SIF_SBOM_FORMAT_NAMES, SIF_SIGNATURE_EXTRA, SifDataType,
} from './sif-format.js';
import type { SifDescriptor, SifFile, SifHeader } from './sif-reader.js';

/** pkg/sif DataType.String(): an unknown code is plain "Unknown". */
const typeName = (d: SifDescriptor): string => SIF_DATA_TYPE_NAMES[d.dataType] ?? 'Unknown';
const fsName = (d: SifDescriptor): string => SIF_FS_TYPE_NAMES[d.fsType ?? 0] ?? 'Unknown';
const partName = (d: SifDescriptor): string => SIF_PART_TYPE_NAMES[d.partType ?? 0] ?? 'Unknown';
const cryptoNames = (d: SifDescriptor): [string, string] => [
  SIF_FORMAT_TYPE_NAMES[d.extra.readInt32LE(SIF_CRYPTO_EXTRA.formatType)] ?? 'Unknown',
  SIF_MESSAGE_TYPE_NAMES[d.extra.readInt32LE(SIF_CRYPTO_EXTRA.messageType)] ?? 'Unknown',
];
const sbomName = (d: SifDescriptor): string => SIF_SBOM_FORMAT_NAMES[d.extra.readInt32LE(SIF_SBOM_EXTRA.format)] ?? 'unknown';
/** Undefined for a hash type pkg/sif does not know (its SignatureMetadata fails). */
const hashName = (d: SifDescriptor): string | undefined => SIF_HASH_TYPE_NAMES[d.hashType ?? 0];

/** The signing key's fingerprint, or undefined when the Entity's first 20 bytes are zero (pkg/sif: "not present"). */
function fingerprint(d: SifDescriptor): Buffer | undefined {
  const fp = d.extra.subarray(SIF_SIGNATURE_EXTRA.entity, SIF_SIGNATURE_EXTRA.entity + SIF_SIGNATURE_EXTRA.fingerprintLen);
  return fp.some((b) => b !== 0) ? fp : undefined;
}

/**
 * The digest of an OCI root index or blob as pkg/sif reads it: the text up to the
 * first NUL, which must parse as a go-containerregistry hash (sha256 and 64 hex
 * digits); otherwise siftool fails, and so does this.
 */
function ociDigest(d: SifDescriptor): string {
  const raw = d.extra.subarray(SIF_OCI_EXTRA.digest);
  const nul = raw.indexOf(0);
  const text = raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
  if (!/^sha256:[0-9a-f]{64}$/.test(text))
    throw new SifError('SIF_E_IMAGE_CORRUPT', `SIF object ${d.id} (${typeName(d)}): its digest ${JSON.stringify(text)} is not sha256:<64 hex digits>`);
  return text;
}

/** siftool's readableSize: "%d B" under 1 KiB, else the value rounded (half away from zero) in K/M/G/T/P/E iB. */
export function readableSize(size: number): string {
  if (-1024 < size && size < 1024) return `${size} B`;
  const units = 'KMGTPE';
  let div = 1024;
  let exp = 0;
  for (let n = Math.trunc(size / 1024); n <= -1024 || n >= 1024; n = Math.trunc(n / 1024)) {
    div *= 1024;
    exp++;
  }
  const v = size / div;
  return `${Math.sign(v) * Math.round(Math.abs(v))} ${units[exp]}iB`;
}

/** Go's time.Time.UTC().String() for whole seconds: "2020-06-30 00:01:56 +0000 UTC". */
export function formatGoTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  if (Number.isNaN(d.getTime())) return `@${unixSeconds}`;
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const y = d.getUTCFullYear();
  const year = y < 0 ? `-${p(-y, 4)}` : p(y, 4);
  return `${year}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`;
}

/**
 * Go text/tabwriter (minwidth 0, padchar ' ', no flags) for rows that all have the same
 * number of cells: every cell but the last is padded to its column's widest cell + padding.
 */
function tabwrite(rows: string[][], padding: number): string {
  // Width in code points, as tabwriter counts runes.
  const len = (s: string): number => [...s].length;
  const cols = Math.max(0, ...rows.map((r) => r.length - 1));
  const widths = Array.from({ length: cols }, (_, c) => Math.max(...rows.map((r) => (r.length - 1 > c ? len(r[c]!) : 0))) + padding);
  const pad = (cell: string, c: number): string => cell + ' '.repeat(widths[c]! - len(cell));
  return rows.map((r) => `${r.map((cell, c) => (c < r.length - 1 ? pad(cell, c) : cell)).join('')}\n`).join('');
}

/** `siftool header`: tabwriter padding 1; launch script, arch, ID and times only when set. */
export function renderHeader(h: SifHeader): string {
  const rows: string[][] = [];
  if (h.launchScript !== '') rows.push(['Launch Script:', h.launchScript.replace(/\n$/, '')]);
  rows.push(['Version:', h.version]);
  if (h.arch !== null) rows.push(['Primary Architecture:', h.arch]);
  if (h.id !== null) rows.push(['ID:', h.id]);
  if (h.createdAt !== null) rows.push(['Created At:', formatGoTime(h.createdAt)]);
  if (h.modifiedAt !== null) rows.push(['Modified At:', formatGoTime(h.modifiedAt)]);
  rows.push(
    ['Descriptors Free:', String(h.descriptorsFree)],
    ['Descriptors Total:', String(h.descriptorsTotal)],
    ['Descriptors Offset:', String(h.descriptorsOffset)],
    ['Descriptors Size:', readableSize(h.descriptorsSize)],
    ['Data Offset:', String(h.dataOffset)],
    ['Data Size:', readableSize(h.dataSize)],
  );
  return tabwrite(rows, 1);
}

const RULE = `${'-'.repeat(78)}\n`;

/**
 * The TYPE column of `siftool list` with its line end: the data type, and for a
 * partition, signature, cryptographic message or SBOM its Extra in parentheses. For a
 * signature whose hash type pkg/sif does not know, siftool prints nothing at all, not
 * even the line end (its metadata read fails and the row is left open); so does this.
 */
function typeColumn(d: SifDescriptor): string {
  const dt = typeName(d);
  switch (d.dataType) {
    case SifDataType.Partition:
      return `|${dt} (${fsName(d)}/${partName(d)}/${d.arch ?? 'unknown'})\n`;
    case SifDataType.Signature: {
      const ht = hashName(d);
      return ht === undefined ? '' : `|${dt} (${ht})\n`;
    }
    case SifDataType.CryptoMessage:
      return `|${dt} (${cryptoNames(d).join('/')})\n`;
    case SifDataType.SBOM:
      return `|${dt} (${sbomName(d)})\n`;
    default:
      return `|${dt}\n`;
  }
}

/** One `siftool list` row: Go's "%-4d |%-7s |%-7s %-26s |TYPE", group links as "%-3d (G)". */
export function renderListRow(d: SifDescriptor): string {
  const group = d.groupId === null ? 'NONE' : String(d.groupId);
  const link = d.linkedId === null ? 'NONE' : d.linkedIsGroup ? `${String(d.linkedId).padEnd(3)} (G)` : String(d.linkedId);
  const pos = `|${d.offset}-${d.offset + d.size} `;
  return `${String(d.id).padEnd(4)} |${group.padEnd(7)} |${link.padEnd(7)} ${pos.padEnd(26)} ${typeColumn(d)}`;
}

/** `siftool list`: a ruled table of the used descriptors. */
export function renderList(sif: SifFile): string {
  const head = `${'ID'.padEnd(4)} ${'|GROUP'.padEnd(8)} ${'|LINK'.padEnd(8)} ${'|SIF POSITION (start-end)'.padEnd(26)} |TYPE\n`;
  return RULE + head + RULE + sif.descriptors.map(renderListRow).join('');
}

/** `siftool info ID`: tabwriter padding 2 with an empty first column (the 2-space indent). */
export function renderInfo(d: SifDescriptor): string {
  const rows: [string, string][] = [
    ['Data Type:', typeName(d)],
    ['ID:', String(d.id)],
    ['Group ID:', d.groupId === null ? 'NONE' : String(d.groupId)],
    ['Linked ID:', d.linkedId === null ? 'NONE' : d.linkedIsGroup ? `${d.linkedId} (G)` : String(d.linkedId)],
    ['Offset:', String(d.offset)],
    ['Size:', String(d.size)],
  ];
  if (d.createdAt !== null) rows.push(['Created At:', formatGoTime(d.createdAt)]);
  if (d.modifiedAt !== null) rows.push(['Modified At:', formatGoTime(d.modifiedAt)]);
  if (d.name !== '') rows.push(['Name:', d.name]);
  switch (d.dataType) {
    case SifDataType.Partition:
      rows.push(['Filesystem Type:', fsName(d)], ['Partition Type:', partName(d)], ['Architecture:', d.arch ?? 'unknown']);
      break;
    case SifDataType.Signature: {
      const ht = hashName(d);
      if (ht === undefined)
        throw new SifError('SIF_E_IMAGE_CORRUPT', `SIF object ${d.id} (Signature): hash type ${d.hashType ?? 0} is not one SIF defines`);
      rows.push(['Hash Type:', ht]);
      const fp = fingerprint(d);
      if (fp) rows.push(['Entity:', fp.toString('hex').toUpperCase()]); // Go's %X
      break;
    }
    case SifDataType.CryptoMessage: {
      const [ft, mt] = cryptoNames(d);
      rows.push(['Format Type:', ft], ['Message Type:', mt]);
      break;
    }
    case SifDataType.SBOM:
      rows.push(['Format:', sbomName(d)]);
      break;
    case SifDataType.OCIRootIndex:
    case SifDataType.OCIBlob:
      rows.push(['Digest:', ociDigest(d)]);
      break;
  }
  return tabwrite(rows.map(([k, v]) => ['', k, v]), 2);
}

/** The used descriptor `id`; otherwise an error naming the IDs that exist. */
export function findDescriptor(sif: SifFile, id: number): SifDescriptor {
  const d = sif.descriptors.find((x) => x.id === id);
  if (d) return d;
  const ids = sif.descriptors.map((x) => x.id);
  throw new SifError('SIF_E_IMAGE_NO_OBJECT', `${sif.path}: no SIF object with ID ${id} (${ids.length ? `IDs present: ${ids.join(', ')}` : 'the image has no objects'})`, {
    hint: `\`sif sif list ${sif.path}\` lists the objects`,
  });
}

/** `siftool dump ID`: stream the object's raw bytes to `out` (never loaded whole). */
export async function dumpObject(path: string, d: SifDescriptor, out: NodeJS.WritableStream): Promise<void> {
  if (d.size === 0) return;
  const src = createReadStream(path, { start: d.offset, end: d.offset + d.size - 1, highWaterMark: 1 << 20 });
  let written = 0;
  for await (const chunk of src) {
    const buf = chunk as Buffer;
    await new Promise<void>((resolve, reject) => {
      out.write(buf, (err) => (err ? reject(err) : resolve()));
    });
    written += buf.length;
  }
  if (written !== d.size) {
    throw new SifError('SIF_E_IMAGE_TRUNCATED', `${path}: SIF object ${d.id} extends past the end of the file`, {
      hint: 'the file was probably cut short while copying or downloading; fetch it again',
    });
  }
}
