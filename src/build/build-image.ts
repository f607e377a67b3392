/**
 * `sif build OUT SOURCE` from end to end: open the source, pick the platform,
 * and hand layers and metadata to the SIF pipeline. A SIF or squashfs source is
 * re-wrapped without unpacking.
 */
import { stat } from 'node:fs/promises';
import { SifError } from '../errors.js';
import { goArchFromNodeArch, imageInfo } from '../image/open-image.js';
import { INSPECT_METADATA_NAME, OCI_CONFIG_NAME, readSifDeffile, readSifJson } from '../image/sif-objects.js';
import { withImageFd } from '../image/sif-reader.js';
import { sifArchFromGoArch } from '../image/sif-format.js';
import { buildApptainerObjects, writeSif, type SifObjectInput } from '../image/sif-writer.js';
import type { SquashfsCompressor } from '../image/squashfs-writer.js';
import { tarDirectory } from '../host/tar-directory.js';
import { buildSif, type BuildStage, type SifBuildResult, type StageInfo } from './build-sif.js';
import { buildTimings } from './build-timings.js';
import type { Platform, ResolvedImage } from './image-source.js';
import { openRegistryImage, type RegistryImageOptions } from './registry/registry-source.js';
import { checkImagePlatform, choosePlatform, formatPlatform, hostPlatform, parsePlatform } from './registry/platform.js';
import { buildLabels, mountPointEntries, singularityDEntries } from './singularity-d.js';
import { openDockerArchive } from './sources/docker-archive-source.js';
import { directoryTree, tarTree } from './sources/file-tree.js';
import { openOciLayout } from './sources/oci-layout-source.js';
import type { SourceSpec } from './source-spec.js';

export interface BuildImageRequest {
  output: string;
  source: SourceSpec;
  /** As the user wrote it, for the definition file and messages. */
  sourceText: string;
  /** Platform to pick from multi-platform images (`arm64`, `arm/v7`); default the host's. */
  arch?: string;
  compressor?: SquashfsCompressor;
  level?: number;
  sourceDateEpoch?: number;
  registry?: Omit<RegistryImageOptions, 'arch' | 'signal'>;
  signal?: AbortSignal;
  version: string;
  warn(message: string): void;
  onLayer?(index: number, bytesRead: number, total: number): void;
  /** The build moved on to merging, finishing the squashfs, or writing the SIF (see build-sif.ts). */
  onStage?(stage: BuildStage, info: StageInfo): void;
}

export type BuildImageResult = Pick<SifBuildResult, 'path' | 'fileSize'> & Partial<SifBuildResult> & { arch: string };

export function hostArch(): string {
  return goArchFromNodeArch(process.arch) ?? process.arch;
}

export function wantedPlatform(arch: string | undefined): Platform {
  return arch === undefined ? hostPlatform() : parsePlatform(arch);
}

const BOOTSTRAP: Record<SourceSpec['kind'], string> = {
  docker: 'docker', oci: 'oci', 'oci-archive': 'oci-archive', 'docker-archive': 'docker-archive', sandbox: 'localimage', image: 'localimage',
};

function fromOf(spec: SourceSpec): string {
  switch (spec.kind) {
    case 'docker': return spec.ref;
    case 'oci': case 'oci-archive': return spec.tag ? `${spec.path}:${spec.tag}` : spec.path;
    case 'docker-archive': return spec.ref ? `${spec.path}:${spec.ref}` : spec.path;
    default: return spec.path;
  }
}

export async function openSource(req: BuildImageRequest, want: Platform): Promise<ResolvedImage> {
  const s = req.source;
  const choose = (manifests: Parameters<typeof choosePlatform>[0], describe: string) => choosePlatform(manifests, want, describe);
  switch (s.kind) {
    case 'docker':
      return openRegistryImage(s.ref, { ...req.registry, platform: want, ...(req.signal ? { signal: req.signal } : {}) });
    case 'oci':
      return openOciLayout(directoryTree(s.path), req.sourceText, s.tag, choose);
    case 'oci-archive':
      return openOciLayout(await tarTree(s.path), req.sourceText, s.tag, choose);
    case 'docker-archive':
      return openDockerArchive(await tarTree(s.path), req.sourceText, s.ref);
    case 'sandbox': {
      // The merge may read the layer twice: each of tar's warnings once.
      const said = new Set<string>();
      const warnOnce = (m: string) => void (said.has(m) || (said.add(m), req.warn(m)));
      return {
        source: req.sourceText,
        config: { architecture: want.architecture, os: 'linux', config: {} },
        layers: [{ descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: '', size: 0 },
          open: async () => tarDirectory(s.path, warnOnce) }],
        close: async () => undefined,
      };
    }
    default:
      throw new SifError('SIF_E_INTERNAL', `no opener for ${s.kind}`);
  }
}

export async function buildImage(req: BuildImageRequest): Promise<BuildImageResult> {
  if (req.source.kind === 'image') return rewrapImage(req);
  const want = wantedPlatform(req.arch);
  const opened = performance.now();
  const image = await openSource(req, want);
  if (buildTimings.on) buildTimings.add('source', opened);
  try {
    const warning = checkImagePlatform(image.config, want, req.arch !== undefined, req.sourceText);
    if (warning) req.warn(warning);
    const arch = image.config.architecture ?? want.architecture;
    if (!sifArchFromGoArch(arch))
      throw new SifError('SIF_E_BUILD_PLATFORM', `${req.sourceText}: SIF has no code for architecture ${arch} (${formatPlatform(want)} wanted)`);
    if (image.config.os && image.config.os !== 'linux')
      throw new SifError('SIF_E_BUILD_PLATFORM', `${req.sourceText} is a ${image.config.os} image; sif runs Linux images`);
    const bootstrap = BOOTSTRAP[req.source.kind];
    const from = fromOf(req.source);
    const deffile = `BootStrap: ${bootstrap}\nFrom: ${from}\n`;
    const date = new Date((req.sourceDateEpoch ?? Date.now() / 1000) * 1000);
    const labels = buildLabels(image.config, bootstrap, from, arch, req.version, date);
    const meta = singularityDEntries({ config: image.config, deffile, labels });
    // A sandbox may already be an Apptainer tree with its own /.singularity.d: keep it.
    const keepImageMeta = req.source.kind === 'sandbox';
    const result = await buildSif({
      output: req.output,
      layers: image.layers.map((l) => ({ name: l.descriptor.digest || req.sourceText, open: () => l.open(), size: l.descriptor.size })),
      config: image.config,
      arch,
      deffile,
      labels,
      over: keepImageMeta ? [] : meta,
      under: keepImageMeta ? [...mountPointEntries(), ...meta] : mountPointEntries(),
      ...(req.compressor ? { compressor: req.compressor } : {}),
      ...(req.level === undefined ? {} : { level: req.level }),
      ...(req.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: req.sourceDateEpoch }),
      ...(req.signal ? { signal: req.signal } : {}),
      warn: req.warn,
      ...(req.onLayer ? { onLayer: (i: number, n: number) => req.onLayer!(i, n, image.layers[i]?.descriptor.size ?? 0) } : {}),
      ...(req.onStage ? { onStage: req.onStage } : {}),
    });
    return { ...result, arch };
  } finally {
    await image.close();
  }
}

/** A SIF or squashfs source: its squashfs is copied as it is, with the SIF's metadata. */
async function rewrapImage(req: BuildImageRequest): Promise<BuildImageResult> {
  const path = req.source.kind === 'image' ? req.source.path : '';
  // Header, partition and metadata objects through one open file.
  const { info, deffile, json } = withImageFd(path, (fd, size) => {
    const image = imageInfo(fd, size, path);
    if (!image.sif) return { info: image, deffile: null, json: {} };
    const objects: Record<string, Buffer> = {};
    for (const name of [INSPECT_METADATA_NAME, OCI_CONFIG_NAME]) {
      const value = readSifJson(fd, image.sif, name);
      if (value) objects[name] = Buffer.from(JSON.stringify(value));
    }
    return { info: image, deffile: readSifDeffile(fd, image.sif), json: objects };
  });
  const arch = info.arch ?? (req.arch === undefined ? hostArch() : parsePlatform(req.arch).architecture);
  const rootfs = { path: info.path, offset: info.rootfsOffset, size: info.rootfsSize };
  const objects: SifObjectInput[] = info.sif
    ? buildApptainerObjects({ ...(deffile === null ? {} : { deffile }), json, rootfs, arch })
    : buildApptainerObjects({ deffile: `BootStrap: localimage\nFrom: ${req.sourceText}\n`, rootfs, arch });
  const sif = await writeSif(req.output, objects, {
    ...(req.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: req.sourceDateEpoch }),
    ...(req.onStage ? { onProgress: (done: number, total: number) => req.onStage!('write', { done, total }) } : {}),
  });
  return { path: sif.path, fileSize: sif.fileSize, arch };
}

/** Refuses to overwrite OUT unless asked, and a directory in any case. */
export async function checkOutput(output: string, force: boolean): Promise<void> {
  const st = await stat(output).catch(() => null);
  if (!st) return;
  if (st.isDirectory()) throw new SifError('SIF_E_USAGE', `${output} is a directory; give the path of the SIF file to write`);
  if (!force) throw new SifError('SIF_E_USAGE', `${output} already exists`, { hint: 'use --force to overwrite it' });
}
