import type { CommandModule } from 'yargs';
import { SifError } from '../../errors.js';
import type { LaunchContribution } from '../../exec/launch-contribution.js';
import { openForLaunch, prepareLaunch } from '../../exec/launch.js';
import { probeHost } from '../../host/probe-host.js';
import { loadGpu } from '../load-gpu.js';
import { loadMpi } from '../load-mpi.js';
import { logger } from '../logger.js';
import { payloadArguments } from './action.js';

const HINT = 'sif doctor --gpu [--device NAME] [IMAGE], or sif doctor --mpi IMAGE [COMMAND...]';

function hostEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}

/** `sif doctor --mpi IMAGE [COMMAND...]`: planned as `sif exec --mpi` would, printed, not run. */
async function doctorMpi(imagePath: string, argv: string[], contain: boolean, cleanenv: boolean): Promise<void> {
  const image = openForLaunch(imagePath);
  const host = probeHost();
  const mpi = await loadMpi();
  let verdict: { text: string; ok: boolean } | undefined;
  const judge = (ctx: Parameters<typeof mpi.mpiDoctor>[2]): LaunchContribution => {
    verdict = mpi.mpiDoctor({ image: image.info, contain, cleanenv, uid: host.uid }, host.env, ctx);
    return { libraries: [], libraryOrder: 'last', ops: [], env: {}, warnings: [] };
  };
  const opts = { bind: [], contain, cleanenv, env: [], envFiles: [], noHome: false, writableTmpfs: false, pid: false, nv: false, mpi: true, noShare: true, shareLingerMs: 0 };
  prepareLaunch(image, argv, opts, host, (m) => logger().warn(m), [judge]);
  process.stdout.write(verdict!.text);
  if (!verdict!.ok) process.exitCode = 1;
}

/**
 * `sif doctor --gpu [--device NAME] [IMAGE]` and `sif doctor --mpi IMAGE [COMMAND...]`: what
 * --nv, --device and --mpi would do here, and why.
 */
export const doctorCommand: CommandModule = {
  command: 'doctor [image] [command..]',
  describe: 'explain what sif would do on this host',
  builder: (y) =>
    y
      .option('gpu', { type: 'boolean', describe: "--nv's decisions: driver, libraries, programs, device nodes, GPUs" })
      .option('mpi', { type: 'boolean', describe: "--mpi's decisions for IMAGE and COMMAND: which MPI, what is bound, each check; exits 1 where --mpi would refuse" })
      .option('contain', { alias: 'c', type: 'boolean', describe: 'as with --contain (device nodes are bound)' })
      .option('compat32', { type: 'boolean', describe: 'as with --compat32 (--gpu: the 32-bit libraries too)' })
      .option('nv-compat', { type: 'boolean', describe: "as with --nv-compat (--gpu: IMAGE's forward-compatibility libraries)" })
      .option('device', { type: 'string', describe: 'also what --device VENDOR/CLASS=NAME would apply (comma-separated, repeatable)' })
      .option('cleanenv', { alias: 'e', type: 'boolean', describe: 'as with --cleanenv (--mpi: what passes)' })
      .positional('image', { type: 'string', describe: 'an image: the CUDA version it needs (--gpu), the command to check (--mpi)' }),
  handler: async (a) => {
    if (a.mpi === true) {
      if (typeof a.image !== 'string') throw new SifError('SIF_E_USAGE', 'sif doctor --mpi needs an image', { hint: HINT });
      return doctorMpi(a.image, payloadArguments(), a.contain === true, a.cleanenv === true);
    }
    if (a.gpu !== true) throw new SifError('SIF_E_USAGE', 'sif doctor needs a topic', { hint: HINT });
    const image = typeof a.image === 'string' ? openForLaunch(a.image) : undefined;
    const imageEnv = image?.ociConfig?.Env ?? [];
    const gpu = await loadGpu();
    const env = hostEnv();
    const req = { contain: a.contain === true, privateTmp: a.contain === true, imageEnv, compat32: a.compat32 === true, compat: a['nv-compat'] === true };
    process.stdout.write(await gpu.nvidiaDoctor(req, env, image?.info));
    const devices = [a.device ?? []].flat().flatMap((d) => String(d).split(',')).map((d) => d.trim()).filter(Boolean);
    process.stdout.write(gpu.cdiDoctor(env, { devices, contain: a.contain === true }));
  },
};
