import type { CommandModule } from 'yargs';
import { SifError } from '../../errors.js';
import { openForLaunch } from '../../exec/launch.js';
import { loadGpu } from '../load-gpu.js';

/** `sif doctor --gpu [--device NAME] [IMAGE]`: what --nv would do here, and why; the CDI specs, and what --device would apply. */
export const doctorCommand: CommandModule = {
  command: 'doctor [image]',
  describe: 'explain what sif would do on this host',
  builder: (y) =>
    y
      .option('gpu', { type: 'boolean', describe: "--nv's decisions: driver, libraries, programs, device nodes, GPUs" })
      .option('contain', { alias: 'c', type: 'boolean', describe: 'as with --contain (device nodes are bound)' })
      .option('device', { type: 'string', describe: 'also what --device VENDOR/CLASS=NAME would apply (comma-separated, repeatable)' })
      .positional('image', { type: 'string', describe: 'an image, to check the CUDA version it needs' }),
  handler: async (a) => {
    if (a.gpu !== true) throw new SifError('SIF_E_USAGE', 'sif doctor needs a topic', { hint: 'sif doctor --gpu [IMAGE]' });
    const imageEnv = typeof a.image === 'string' ? (openForLaunch(a.image).ociConfig?.Env ?? []) : [];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    const gpu = await loadGpu();
    process.stdout.write(gpu.nvidiaDoctor({ contain: a.contain === true, privateTmp: a.contain === true, imageEnv }, env));
    const devices = [a.device ?? []].flat().flatMap((d) => String(d).split(',')).map((d) => d.trim()).filter(Boolean);
    process.stdout.write(gpu.cdiDoctor(env, { devices, contain: a.contain === true }));
  },
};
