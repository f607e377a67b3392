/**
 * What `sif inspect` shows, found where Apptainer finds it: in a SIF's
 * `inspect-metadata.json` (and its Def.FILE) when it has one, otherwise in the image's
 * own /.singularity.d, read straight from the squashfs (plain images, and SIFs built
 * without the metadata object).
 */
import { imageInfo, type ImageInfo } from './open-image.js';
import { readSifMetadata, type ContainerAttributes, type InspectMetadata } from './sif-objects.js';
import { withImageFd } from './sif-reader.js';
import { SquashfsReader } from './squashfs-reader.js';

/** Apptainer's attribute names (pkg/inspect/metadata.go), in the order it writes them. */
export const ATTRIBUTE_NAMES = ['environment', 'labels', 'runscript', 'test', 'helpfile', 'deffile', 'startscript'] as const;
export type AttributeName = (typeof ATTRIBUTE_NAMES)[number];

export type { ContainerAttributes };

const D = '/.singularity.d';
/** The file in /.singularity.d that holds each single-file attribute. */
const FILES: Record<Exclude<AttributeName, 'environment' | 'labels' | 'deffile'>, string> = {
  runscript: `${D}/runscript`,
  test: `${D}/test`,
  helpfile: `${D}/runscript.help`,
  startscript: `${D}/startscript`,
};
/** Where the definition file is kept in the image (the first that exists). */
const DEFFILES = [`${D}/Singularity`, `${D}/Apptainer`];
/** The environment scripts Apptainer shows: the image's OCI environment and the definition file's. */
const ENV_SCRIPTS = [/^10-docker.*\.sh$/, /^9.*-environment\.sh$/];

type Warn = (message: string) => void;

/** Apptainer stores and shows each text without its trailing newlines. */
const trimmed = (text: string): string => text.replace(/\n+$/, '');

/** Only string values: Apptainer reads labels into a map of strings. */
function stringLabels(value: unknown, where: string, warn: Warn): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    warn(`${where}: the labels are not a JSON object; none shown`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') out[k] = v;
    else warn(`${where}: label ${JSON.stringify(k)} is not a string; not shown`);
  }
  return out;
}

/** The attributes the image's /.singularity.d holds, of those asked for. */
function fromSquashfs(info: ImageInfo, fd: number, want: ReadonlySet<AttributeName>, warn: Warn): ContainerAttributes {
  const reader = new SquashfsReader({ fd, offset: info.rootfsOffset, superblock: info.superblock, file: info.path });
  const text = (path: string): string | undefined => {
    const data = reader.readFile(path);
    return data === null ? undefined : trimmed(data.toString('utf8'));
  };
  const out: ContainerAttributes = {};
  if (want.has('labels')) {
    const json = text(`${D}/labels.json`);
    if (json !== undefined) {
      try {
        out.labels = stringLabels(JSON.parse(json), `${info.path}: ${D}/labels.json`, warn);
      } catch (e) {
        warn(`${info.path}: ${D}/labels.json is not valid JSON (${(e as Error).message}); no labels shown`);
      }
    }
  }
  if (want.has('deffile')) {
    for (const path of DEFFILES) {
      out.deffile = text(path);
      if (out.deffile !== undefined) break;
    }
  }
  for (const [name, path] of Object.entries(FILES) as [keyof typeof FILES, string][]) {
    if (want.has(name)) {
      const value = text(path);
      if (value !== undefined) out[name] = value;
    }
  }
  if (want.has('environment')) {
    const names = reader.list(`${D}/env`) ?? [];
    const env: Record<string, string> = {};
    for (const pattern of ENV_SCRIPTS) {
      for (const name of names.filter((n) => pattern.test(n))) {
        const value = text(`${D}/env/${name}`);
        if (value !== undefined) env[`${D}/env/${name}`] = value;
      }
    }
    out.environment = env;
  }
  return out;
}

/** The attributes of the SIF's inspect-metadata.json (and its Def.FILE), of those asked for. */
function fromSifMetadata(meta: InspectMetadata, deffile: string | null, want: ReadonlySet<AttributeName>, where: string, warn: Warn): ContainerAttributes {
  const attrs = meta.data?.attributes ?? {};
  const out: ContainerAttributes = {};
  for (const name of want) {
    if (name === 'labels') {
      if (attrs.labels !== undefined) out.labels = stringLabels(attrs.labels, where, warn);
    } else if (name === 'environment') {
      const env = attrs.environment;
      if (env && typeof env === 'object') {
        out.environment = Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === 'string').map(([k, v]) => [k, trimmed(v)]));
      }
    } else {
      const value = name === 'deffile' ? (attrs.deffile ?? deffile) : attrs[name];
      if (typeof value === 'string') out[name] = trimmed(value);
    }
  }
  return out;
}

/**
 * The attributes `want` of the image at `path`: from the SIF's metadata objects when it
 * has inspect-metadata.json, else from its /.singularity.d. Values without trailing
 * newlines; absent ones left out. Labels that cannot be shown are `warn`ed about.
 */
export function readContainerAttributes(path: string, want: ReadonlySet<AttributeName>, warn: Warn): ContainerAttributes {
  return withImageFd(path, (fd, size) => {
    const info = imageInfo(fd, size, path);
    if (info.sif) {
      const meta = readSifMetadata(fd, info.sif);
      if (meta.inspectMetadata) return fromSifMetadata(meta.inspectMetadata, meta.deffile, want, `${info.path}: inspect-metadata.json`, warn);
      if (meta.deffile !== null && want.has('deffile')) {
        const rest = new Set([...want].filter((n) => n !== 'deffile'));
        return { ...fromSquashfs(info, fd, rest, warn), deffile: trimmed(meta.deffile) };
      }
    }
    return fromSquashfs(info, fd, want, warn);
  });
}
