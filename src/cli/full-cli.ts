import yargs, { type Argv } from 'yargs';
import { sifVersion } from '../native-addons.js';
import { doctorCommand } from './commands/doctor.js';
import { execCommand } from './commands/exec.js';
import { inspectCommand } from './commands/inspect.js';
import { runCommand } from './commands/run.js';
import { shellCommand } from './commands/shell.js';
import { sifCommand } from './commands/sif.js';
import { buildCommand, pullCommand } from './commands/build.js';
import { cacheCommand } from './commands/cache.js';
import { registryCommand } from './commands/registry.js';
import { GLOBAL_FLAGS, logLevel } from './global-options.js';
import { fixHelpSpacing } from './help-layout.js';
import { helpWidth } from './help-width.js';
import { configureLogger } from './logger.js';
import { makeOutputBlocking } from './blocking-output.js';
import { report, reportUsage } from './report.js';

/** The whole command line, with help and usage errors: loaded only when the fast path (fast-action.ts) does not apply. */
export async function runFullCli(own: string[], debug: boolean): Promise<void> {
  makeOutputBlocking();
  // Usage errors come before yargs' middleware: they follow --log-format too.
  const at = own.findIndex((t) => t === '--log-format' || t.startsWith('--log-format='));
  if (at >= 0 && (own[at] === '--log-format=json' || (own[at] === '--log-format' && own[at + 1] === 'json'))) configureLogger('warn', true);
  await fullCli(own, debug).parseAsync();
}

/** sif's yargs command line, ready to parse; help wrapped at `width` columns. */
export function fullCli(own: string[], debug: boolean, width = helpWidth()): Argv {
  fixHelpSpacing();
  return yargs(own)
    .scriptName('sif')
    .usage('$0 <command> [options]\n\nRootless containers for HPC: run SIF and squashfs images as yourself.')
    .options(GLOBAL_FLAGS)
    .middleware((a) => configureLogger(logLevel(a), a['log-format'] === 'json'))
    .command(execCommand)
    .command(runCommand)
    .command(shellCommand)
    .command(inspectCommand)
    .command(sifCommand)
    .command(buildCommand)
    .command(pullCommand)
    .command(cacheCommand)
    .command(registryCommand)
    .command(doctorCommand)
    .demandCommand(1, 'give a command: sif --help lists them')
    .strict()
    .help()
    .wrap(width)
    .version(sifVersion())
    .fail((msg, err) => {
      if (err) report(err, debug);
      reportUsage(msg);
    });
}
