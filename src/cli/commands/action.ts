import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { encodePlan } from '../../exec/plan-encoding.js';
import { probeHost } from '../../host/probe-host.js';
import { launch, openForLaunch, prepareLaunch, type OpenedImage } from '../../exec/launch.js';
import { actionOptions, withActionOptions } from '../action-options.js';
import type { Contributor } from '../../exec/launch-contribution.js';
import { loadGpu } from '../load-gpu.js';
import { loadMpi } from '../load-mpi.js';
import { logger, logs } from '../logger.js';

/** The payload's arguments, split off before yargs sees the command line (see split-argv.ts). */
let payloadArgs: string[] = [];
export function setPayloadArgs(args: string[]): void {
  payloadArgs = args;
}
export function payloadArguments(): string[] {
  return payloadArgs;
}

type ArgvFor = (image: OpenedImage, args: string[], a: Record<string, unknown>) => string[];

/** exec, run and shell differ only in the command they run. */
export function actionCommand(command: string, describe: string, argvFor: ArgvFor, extra?: (y: Argv) => Argv): CommandModule {
  return {
    command,
    describe,
    builder: (y) => {
      const withImage = withActionOptions(y).positional('image', { type: 'string', describe: 'SIF or squashfs image' });
      return extra ? extra(withImage) : withImage;
    },
    handler: async (a) => {
      const image = openForLaunch(String(a.image));
      const argv = argvFor(image, payloadArgs, a);
      const opts = actionOptions(a);
      const host = probeHost();
      const contributors: Contributor[] = [];
      const gpu = opts.nv || opts.device.length ? await loadGpu() : undefined;
      if (gpu && opts.device.length) {
        contributors.push(() => {
          const parts = gpu.cdiForLaunch({ devices: opts.device, contain: opts.contain, nv: opts.nv }, host.env);
          for (const h of parts.hooks) logger().info(`--device: ${h}`);
          if (logs('debug')) logger().debug({ decisions: parts.notes }, '--device');
          return parts;
        });
      }
      if (gpu && opts.nv) {
        // Planned before the launch: reading the image (--nv-compat) loads its reader asynchronously.
        const parts = await gpu.nvidiaForLaunch(
          { contain: opts.contain, privateTmp: opts.contain && !opts.workdir, imageEnv: image.ociConfig?.Env ?? [], compat32: opts.compat32, compat: opts.nvCompat },
          host.env,
          image.info,
        );
        contributors.push(() => {
          if (logs('debug')) logger().debug({ decisions: parts.notes }, '--nv');
          return parts;
        });
      }
      if (opts.mpi) {
        const mpi = await loadMpi();
        // Its decisions are what --verbose shows: which MPI, found how, what is bound, each verdict.
        const say = logs('info') ? (n: string) => logger().info(`--mpi: ${n}`) : undefined;
        contributors.push((ctx) => mpi.mpiForLaunch({ image: image.info, contain: opts.contain, cleanenv: opts.cleanenv, uid: host.uid }, host.env, ctx, say));
      }
      const plan = prepareLaunch(image, argv, opts, host, (m) => logger().warn(m), contributors);
      if (logs('debug')) logger().debug({ plan: { ...plan, env: Object.keys(plan.env) } }, 'launch plan');
      // For benchmarks and debugging: keep the plan the starter would read, run nothing.
      const dump = process.env.SIF_DUMP_PLAN;
      if (dump) return writeFileSync(dump, encodePlan(plan));
      launch(plan);
    },
  };
}
