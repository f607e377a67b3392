/**
 * SIF on-disk constants (apptainer/sif pkg/sif). All integers are little endian and
 * packed; docs/design.md describes the layout.
 */
import type { SifDescriptor } from './sif-reader.js';

export const SIF_HEADER_SIZE = 128;
export const SIF_DESCRIPTOR_SIZE = 585;

/** Header field offsets. */
export const SIF_HEADER = {
  launchScript: 0,
  magic: 32,
  version: 42,
  arch: 45,
  id: 48,
  createdAt: 64,
  modifiedAt: 72,
  descriptorsFree: 80,
  descriptorsTotal: 88,
  descriptorsOffset: 96,
  descriptorsSize: 104,
  dataOffset: 112,
  dataSize: 120,
} as const;

export const SIF_LAUNCH_SCRIPT_LEN = 32;
export const SIF_MAGIC = Buffer.from('SIF_MAGIC\0', 'latin1');
export const SIF_MAGIC_OFFSET = SIF_HEADER.magic;
/** The only version the upstream loader accepts (ASCII "01" + NUL). */
export const SIF_VERSION = '01';

/** Descriptor field offsets, relative to the start of one 585-byte descriptor. */
export const SIF_DESC = {
  dataType: 0,
  used: 4,
  id: 5,
  groupId: 9,
  linkedId: 13,
  offset: 17,
  size: 25,
  sizeWithPadding: 33,
  createdAt: 41,
  modifiedAt: 49,
  uid: 57,
  gid: 65,
  name: 73,
  extra: 201,
} as const;

export const SIF_NAME_LEN = 128;
export const SIF_EXTRA_LEN = 384;

/** Group and group-link IDs are stored OR-ed with this mask. */
export const SIF_GROUP_MASK = 0xf0000000;

/** Go's zero time.Time as Unix seconds: what deterministic images store for "unset". */
export const SIF_ZERO_TIME = -62135596800;

export const SifDataType = {
  Deffile: 0x4001,
  EnvVar: 0x4002,
  Labels: 0x4003,
  Partition: 0x4004,
  Signature: 0x4005,
  GenericJSON: 0x4006,
  Generic: 0x4007,
  CryptoMessage: 0x4008,
  SBOM: 0x4009,
  OCIRootIndex: 0x400a,
  OCIBlob: 0x400b,
} as const;

/** Display names as printed by `siftool list`. */
export const SIF_DATA_TYPE_NAMES: Readonly<Record<number, string>> = {
  0x4001: 'Def.FILE',
  0x4002: 'Env.Vars',
  0x4003: 'JSON.Labels',
  0x4004: 'FS',
  0x4005: 'Signature',
  0x4006: 'JSON.Generic',
  0x4007: 'Generic/Raw',
  0x4008: 'Cryptographic Message',
  0x4009: 'SBOM',
  0x400a: 'OCI.RootIndex',
  0x400b: 'OCI.Blob',
};

export const SifFsType = {
  Squashfs: 1,
  Ext3: 2,
  ImmuObj: 3,
  Raw: 4,
  EncryptedSquashfs: 5,
  GocryptfsSquashfs: 6,
} as const;

export const SIF_FS_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'Squashfs',
  2: 'Ext3',
  3: 'Archive',
  4: 'Raw',
  5: 'Encrypted squashfs',
  6: 'Gocryptfs squashfs',
};

export const SifPartType = { System: 1, PrimSys: 2, Data: 3, Overlay: 4 } as const;

export const SIF_PART_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'System',
  2: '*System',
  3: 'Data',
  4: 'Overlay',
};

export const SifHashType = { SHA256: 1, SHA384: 2, SHA512: 3, BLAKE2s256: 4, BLAKE2b256: 5 } as const;

/** Go's crypto.Hash names, as siftool prints them. */
export const SIF_HASH_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'SHA-256',
  2: 'SHA-384',
  3: 'SHA-512',
  4: 'BLAKE2s-256',
  5: 'BLAKE2b-256',
};

export const SifFormatType = { OpenPGP: 1, PEM: 2 } as const;
export const SifMessageType = { ClearSignature: 0x100, RSAOAEP: 0x200 } as const;

export const SIF_FORMAT_TYPE_NAMES: Readonly<Record<number, string>> = { 1: 'OpenPGP', 2: 'PEM' };
export const SIF_MESSAGE_TYPE_NAMES: Readonly<Record<number, string>> = {
  0x100: 'Clear Signature',
  0x200: 'RSA-OAEP',
};

export const SifSbomFormat = {
  CycloneDXJSON: 1, CycloneDXXML: 2, GitHubJSON: 3, SPDXJSON: 4, SPDXRDF: 5, SPDXTagValue: 6, SPDXYAML: 7, SyftJSON: 8,
} as const;

/** SBOM Extra `Format` names (pkg/sif SBOMFormat); an unknown code prints as "unknown", lower case. */
export const SIF_SBOM_FORMAT_NAMES: Readonly<Record<number, string>> = {
  1: 'cyclonedx-json',
  2: 'cyclonedx-xml',
  3: 'github-json',
  4: 'spdx-json',
  5: 'spdx-rdf',
  6: 'spdx-tag-value',
  7: 'spdx-yaml',
  8: 'syft-json',
};

/** Partition Extra layout: Fstype i32, Parttype i32, Arch [3]byte, relative to Extra. */
export const SIF_PARTITION_EXTRA = { fsType: 0, partType: 4, arch: 8 } as const;
/** Signature Extra layout: Hashtype i32, Entity [256]byte (an OpenPGP fingerprint in its first 20). */
export const SIF_SIGNATURE_EXTRA = { hashType: 0, entity: 4, entityLen: 256, fingerprintLen: 20 } as const;
/** Cryptographic message Extra layout: Formattype i32, Messagetype i32. */
export const SIF_CRYPTO_EXTRA = { formatType: 0, messageType: 4 } as const;
/** SBOM Extra layout: Format i32. */
export const SIF_SBOM_EXTRA = { format: 0 } as const;
/** OCI root index and blob Extra: the digest as text ("sha256:<hex>"), NUL-padded. */
export const SIF_OCI_EXTRA = { digest: 0 } as const;

/** Two-digit SIF arch code -> Go GOARCH name. "00" is unknown and deliberately absent. */
export const SIF_ARCH_TO_GO: Readonly<Record<string, string>> = {
  '01': '386',
  '02': 'amd64',
  '03': 'arm',
  '04': 'arm64',
  '05': 'ppc64',
  '06': 'ppc64le',
  '07': 'mips',
  '08': 'mipsle',
  '09': 'mips64',
  '10': 'mips64le',
  '11': 's390x',
  '12': 'riscv64',
  '13': 'loong64',
};

export const SIF_ARCH_UNKNOWN = '00';

/** Go arch name for a SIF arch code, or null when unknown ("00" or unrecognised). */
export function goArchFromSifArch(code: string): string | null {
  return SIF_ARCH_TO_GO[code] ?? null;
}

/** SIF arch code for a Go arch name, or null when SIF has no code for it. */
export function sifArchFromGoArch(goArch: string): string | null {
  for (const [code, name] of Object.entries(SIF_ARCH_TO_GO)) if (name === goArch) return code;
  return null;
}

/** The TYPE column of `siftool list`, e.g. "FS (Squashfs/*System/amd64)". */
export function describeDescriptor(d: SifDescriptor): string {
  if (d.dataType === SifDataType.Partition) {
    const fs = SIF_FS_TYPE_NAMES[d.fsType ?? 0] ?? 'Unknown';
    const pt = SIF_PART_TYPE_NAMES[d.partType ?? 0] ?? 'Unknown';
    return `${d.dataTypeName} (${fs}/${pt}/${d.arch ?? 'unknown'})`;
  }
  if (d.dataType === SifDataType.Signature) {
    return `${d.dataTypeName} (${SIF_HASH_TYPE_NAMES[d.hashType ?? 0] ?? 'Unknown'})`;
  }
  if (d.dataType === SifDataType.CryptoMessage) {
    const ft = SIF_FORMAT_TYPE_NAMES[d.extra.readInt32LE(SIF_CRYPTO_EXTRA.formatType)] ?? 'Unknown';
    const mt = SIF_MESSAGE_TYPE_NAMES[d.extra.readInt32LE(SIF_CRYPTO_EXTRA.messageType)] ?? 'Unknown';
    return `${d.dataTypeName} (${ft}/${mt})`;
  }
  if (d.dataType === SifDataType.SBOM) {
    return `${d.dataTypeName} (${SIF_SBOM_FORMAT_NAMES[d.extra.readInt32LE(SIF_SBOM_EXTRA.format)] ?? 'unknown'})`;
  }
  return d.dataTypeName;
}
