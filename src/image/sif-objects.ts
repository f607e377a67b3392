/**
 * The metadata objects Apptainer writes next to the rootfs: the definition file
 * (Def.FILE) and the JSON.Generic objects `inspect-metadata.json` and `oci-config.json`.
 */
import { SifError } from '../errors.js';
import { SifDataType } from './sif-format.js';
import { openSif, readSifObject, type SifDescriptor, type SifFile, type SifSource } from './sif-reader.js';

export const INSPECT_METADATA_NAME = 'inspect-metadata.json';
export const OCI_CONFIG_NAME = 'oci-config.json';

/** The subset of the OCI image config that exec uses; other keys are kept as-is. */
export interface OciImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  [key: string]: unknown;
}

/** The container attributes Apptainer records, whether from metadata or /.singularity.d. */
export interface ContainerAttributes {
  environment?: Record<string, string>;
  labels?: Record<string, string>;
  runscript?: string;
  test?: string;
  helpfile?: string;
  deffile?: string;
  startscript?: string;
}

/** `apptainer inspect --json` shape (pkg/inspect/metadata.go). */
export interface InspectMetadata {
  type?: string;
  data?: {
    attributes?: ContainerAttributes & { apps?: unknown; [key: string]: unknown };
  };
  [key: string]: unknown;
}

export interface SifMetadata {
  deffile: string | null;
  inspectMetadata: InspectMetadata | null;
  ociConfig: OciImageConfig | null;
}

/** The JSON.Generic descriptor named `name` (first one if several), or undefined. */
export function findJsonObject(sif: SifFile, name: string): SifDescriptor | undefined {
  return sif.descriptors.find((d) => d.dataType === SifDataType.GenericJSON && d.name === name);
}

/**
 * Parse the JSON.Generic object `name`; null when absent. Content that is not a JSON
 * object is SIF_E_IMAGE_CORRUPT naming the object.
 */
export function readSifJson(source: SifSource, sif: SifFile, name: string): Record<string, unknown> | null {
  const desc = findJsonObject(sif, name);
  if (!desc) return null;
  const file = sif.path;
  const bytes = readSifObject(source, desc, { name: file });
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new SifError('SIF_E_IMAGE_CORRUPT', `${file}: SIF object ${desc.id} "${name}" is not valid JSON: ${(e as Error).message}`, {
      cause: e,
      hint: 'the image metadata is damaged; rebuild the image',
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SifError('SIF_E_IMAGE_CORRUPT', `${file}: SIF object ${desc.id} "${name}" is not a JSON object`, {
      hint: 'the image metadata is damaged; rebuild the image',
    });
  }
  return value as Record<string, unknown>;
}

/** Text of the first Def.FILE object, or null when there is none. */
export function readSifDeffile(source: SifSource, sif: SifFile): string | null {
  const desc = sif.descriptors.find((d) => d.dataType === SifDataType.Deffile);
  if (!desc) return null;
  return readSifObject(source, desc, { name: sif.path }).toString('utf8');
}

/** All three metadata objects; `sif` is parsed from `source` when not given. */
export function readSifMetadata(source: SifSource, sif?: SifFile): SifMetadata {
  const parsed = sif ?? openSif(source);
  return {
    deffile: readSifDeffile(source, parsed),
    inspectMetadata: readSifJson(source, parsed, INSPECT_METADATA_NAME) as InspectMetadata | null,
    ociConfig: readSifJson(source, parsed, OCI_CONFIG_NAME) as OciImageConfig | null,
  };
}
