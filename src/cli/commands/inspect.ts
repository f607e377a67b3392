import type { CommandModule } from 'yargs';
import { readContainerAttributes, type AttributeName } from '../../image/container-attributes.js';
import { openImage } from '../../image/open-image.js';
import { readSifMetadata } from '../../image/sif-objects.js';
import { inspectJson, inspectText } from '../inspect-output.js';
import { logger } from '../logger.js';

/** Apptainer's selectors (its -d for --deffile is sif's --debug, so --deffile has none). */
const SELECTORS = {
  labels: { alias: 'l', describe: 'the labels (the default)' },
  deffile: { describe: 'the definition file the image was built from' },
  runscript: { alias: 'r', describe: 'the runscript' },
  startscript: { alias: 's', describe: 'the startscript' },
  test: { alias: 't', describe: 'the test script' },
  environment: { alias: 'e', describe: 'the environment scripts' },
  helpfile: { alias: 'H', describe: 'the runscript help' },
} as const satisfies Record<AttributeName, { alias?: string; describe: string }>;

/** The attributes asked for: --all, the selectors given, or the labels. */
export function wantedAttributes(a: Record<string, unknown>): Set<AttributeName> {
  const names = Object.keys(SELECTORS) as AttributeName[];
  if (a.all) return new Set(names);
  const chosen = names.filter((n) => a[n]);
  return new Set(chosen.length ? chosen : ['labels']);
}

/** sif's own view: format, architecture, root filesystem, OCI config. */
function imageSummary(path: string, json: boolean): string {
  const info = openImage(path);
  const meta = info.sif ? readSifMetadata(info.path, info.sif) : null;
  const result = {
    path: info.path,
    format: info.format,
    arch: info.arch,
    rootfs: { type: 'squashfs', compression: info.compression, offset: info.rootfsOffset, size: info.rootfsSize },
    ociConfig: meta?.ociConfig ?? null,
  };
  if (json) return `${JSON.stringify(result, null, 2)}\n`;
  return [
    `image:        ${result.path}`,
    `format:       ${result.format}`,
    `architecture: ${result.arch ?? 'unknown'}`,
    `rootfs:       squashfs (${result.rootfs.compression}), ${result.rootfs.size} bytes at offset ${result.rootfs.offset}`,
    '',
  ].join('\n');
}

export const inspectCommand: CommandModule = {
  command: 'inspect <image>',
  describe: "print an image's labels, scripts, environment or definition (as Apptainer does)",
  builder: (y) => {
    const withImage = y.positional('image', { type: 'string', describe: 'SIF or squashfs image' });
    for (const [name, o] of Object.entries(SELECTORS)) withImage.option(name, { type: 'boolean', ...o });
    return withImage
      .option('all', { type: 'boolean', describe: 'everything, as JSON' })
      .option('json', { alias: 'j', type: 'boolean', describe: "print JSON, in Apptainer's shape" })
      .option('image-info', { type: 'boolean', describe: "sif's own summary instead: format, architecture, root filesystem, OCI config" })
      .conflicts('image-info', ['all', ...Object.keys(SELECTORS)]);
  },
  handler: async (a) => {
    const path = String(a.image);
    if (a['image-info']) {
      process.stdout.write(imageSummary(path, Boolean(a.json)));
      return;
    }
    const attrs = readContainerAttributes(path, wantedAttributes(a), (m) => logger().warn(m));
    process.stdout.write(a.json || a.all ? inspectJson(attrs) : inspectText(attrs));
  },
};
