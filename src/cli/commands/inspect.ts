import type { CommandModule } from 'yargs';
import { openImage } from '../../image/open-image.js';
import { readSifMetadata } from '../../image/sif-objects.js';

export const inspectCommand: CommandModule = {
  command: 'inspect <image>',
  describe: "print an image's metadata",
  builder: (y) => y.positional('image', { type: 'string' }).option('json', { type: 'boolean', describe: 'print JSON' }),
  handler: async (a) => {
    const info = openImage(String(a.image));
    const meta = info.sif ? readSifMetadata(info.path, info.sif) : null;
    const attrs = meta?.inspectMetadata?.data?.attributes ?? {};
    const result = {
      path: info.path,
      format: info.format,
      arch: info.arch,
      rootfs: { type: 'squashfs', compression: info.compression, offset: info.rootfsOffset, size: info.rootfsSize },
      labels: attrs.labels ?? meta?.ociConfig?.Labels ?? {},
      runscript: attrs.runscript ?? null,
      environment: attrs.environment ?? {},
      deffile: meta?.deffile ?? attrs.deffile ?? null,
      ociConfig: meta?.ociConfig ?? null,
    };
    if (a.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const lines = [
      `image:        ${result.path}`,
      `format:       ${result.format}`,
      `architecture: ${result.arch ?? 'unknown'}`,
      `rootfs:       squashfs (${result.rootfs.compression}), ${result.rootfs.size} bytes at offset ${result.rootfs.offset}`,
    ];
    const labels = Object.entries(result.labels as Record<string, unknown>);
    if (labels.length) lines.push('labels:', ...labels.map(([k, v]) => `  ${k}: ${String(v)}`));
    if (result.deffile) lines.push('definition:', ...String(result.deffile).trimEnd().split('\n').map((l) => `  ${l}`));
    if (result.runscript) lines.push('runscript:', ...String(result.runscript).trimEnd().split('\n').map((l) => `  ${l}`));
    process.stdout.write(`${lines.join('\n')}\n`);
  },
};
