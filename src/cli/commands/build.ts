import { statSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { buildImage, checkOutput, type BuildImageRequest } from '../../build/build-image.js';
import { parseSource, type PathKind, type SourceSpec } from '../../build/source-spec.js';
import { SifError } from '../../errors.js';
import { sifVersion } from '../../native-addons.js';
import { logger, logs, note } from '../logger.js';
import { BUILD_FLAGS, defaultPullName, parseCompress, sourceDateEpoch } from './build-options.js';
import { registryOptionsFrom, withRegistryOptions } from './registry-options.js';
import { ProgressBars } from '../progress.js';
import { buildTimings } from '../../build/build-timings.js';

function pathKind(p: string): PathKind {
  try {
    const st = statSync(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}

const withOptions = (y: Argv): Argv => withRegistryOptions(y.options(BUILD_FLAGS));

/** Runs one build with Ctrl-C and SIGTERM turned into a clean abort (no OUT, no temp files). */
async function runBuild(output: string, sourceText: string, source: SourceSpec, a: ArgumentsCamelCase): Promise<void> {
  const started = performance.now();
  const { compressor, level } = parseCompress(String(a.compress));
  // Where the time went, for the build benchmark (bench/build.sh) and the curious.
  buildTimings.on = Boolean(process.env.SIF_BUILD_TIMINGS);
  await checkOutput(output, Boolean(a.force));
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const stop = (sig: NodeJS.Signals) => {
    stoppedBy ??= sig;
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  const bars = new ProgressBars(process.stderr);
  const warn = (msg: string) => logger().warn(msg);
  try {
    const registry = await registryOptionsFrom(a);
    const req: BuildImageRequest = {
      output,
      source,
      sourceText,
      ...(a.arch === undefined ? {} : { arch: String(a.arch) }),
      compressor,
      ...(level === undefined ? {} : { level }),
      ...(() => {
        const epoch = sourceDateEpoch(process.env);
        return epoch === undefined ? {} : { sourceDateEpoch: epoch };
      })(),
      registry: { ...registry, onProgress: (p) => bars.update(p), onWarning: warn },
      signal: controller.signal,
      version: sifVersion(),
      warn,
      onLayer: (index, bytesRead) => bars.layer(index, bytesRead),
      onStage: (stage, info) => bars.stage(stage, info),
    };
    const result = await buildImage(req);
    bars.done();
    // One "wrote" line: with -v the merge's figures come with it.
    if (logs('info')) logger().info({ ...result.merge, bytes: result.fileSize }, `wrote ${result.path}`);
    else note(`wrote ${result.path} (${(result.fileSize / 1048576).toFixed(1)} MiB, ${result.arch})`);
    if (buildTimings.on) note(`timings (s): total ${((performance.now() - started) / 1000).toFixed(2)}; ${buildTimings.report()}`);
  } catch (e) {
    bars.done();
    if (stoppedBy) {
      // An error, not a note: it is why the status is not 0, and --quiet keeps errors.
      logger().error(`build interrupted (${stoppedBy}); ${output} was not written`);
      process.exit(stoppedBy === 'SIGINT' ? 130 : stoppedBy === 'SIGHUP' ? 129 : 143);
    }
    throw e;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', stop);
  }
}

export const buildCommand: CommandModule = {
  command: 'build <output> <source>',
  describe: 'build a SIF image from docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, a directory or an image',
  builder: (y) =>
    withOptions(y.positional('output', { type: 'string', describe: 'SIF file to write' })
      .positional('source', { type: 'string', describe: 'what to build from' })),
  handler: async (a) => {
    const sourceText = String(a.source);
    await runBuild(String(a.output), sourceText, parseSource(sourceText, pathKind), a);
  },
};

export const pullCommand: CommandModule = {
  // yargs cannot put an optional positional before a required one: `pull [OUT] SOURCE` is parsed here.
  command: 'pull <args..>',
  describe: 'sif pull [OUT.sif] docker://REF: build a SIF from a registry image, named NAME_TAG.sif unless OUT is given',
  builder: (y) => withOptions(y.positional('args', { type: 'string', array: true, describe: '[OUT.sif] docker://REF' })),
  handler: async (a) => {
    const args = (a.args as unknown[]).map(String);
    if (args.length > 2) throw new SifError('SIF_E_USAGE', `sif pull takes at most 2 arguments, got ${args.length}`, { hint: 'sif pull [OUT.sif] docker://REF' });
    const sourceText = args.at(-1)!;
    const source = parseSource(sourceText, pathKind);
    if (source.kind !== 'docker')
      throw new SifError('SIF_E_USAGE', `sif pull takes a docker://REF, not ${sourceText}`, { hint: `use sif build OUT ${sourceText}` });
    const output = args.length === 2 ? args[0]! : defaultPullName(source.ref);
    await runBuild(output, sourceText, source, a);
  },
};
