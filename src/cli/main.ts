import type { CommandModule } from 'yargs';
import { VALUE_OPTIONS } from './action-options.js';
import { setPayloadArgs } from './commands/action.js';
import { execCommand } from './commands/exec.js';
import { runCommand } from './commands/run.js';
import { parseActionFast } from './fast-action.js';
import { logLevel } from './global-options.js';
import { configureLogger } from './logger.js';
import { report } from './report.js';
import { splitActionArgv } from './split-argv.js';

const ACTIONS = new Set(['exec', 'run', 'shell']);
/** Commands that skip building the full CLI when their arguments are ordinary (fast-action.ts). */
const FAST_ACTIONS: Record<string, CommandModule> = { exec: execCommand, run: runCommand };
const GLOBAL_VALUE_OPTIONS = new Set(['log-format']);

async function main(): Promise<void> {
  const tokens = process.argv.slice(2);
  // Global options may come before the command; the payload starts after the image.
  let cmdAt = 0;
  while (cmdAt < tokens.length && tokens[cmdAt]!.startsWith('-')) cmdAt += GLOBAL_VALUE_OPTIONS.has(tokens[cmdAt]!.slice(2)) ? 2 : 1;
  let own = tokens;
  if (ACTIONS.has(tokens[cmdAt] ?? '')) {
    const split = splitActionArgv(tokens.slice(cmdAt + 1), new Set([...VALUE_OPTIONS, ...GLOBAL_VALUE_OPTIONS]));
    own = [...tokens.slice(0, cmdAt + 1), ...split.own];
    setPayloadArgs(split.payload);
  }
  const debug = own.includes('--debug') || own.includes('-d');
  const fast = FAST_ACTIONS[tokens[cmdAt] ?? ''];
  const args = fast && parseActionFast([...own.slice(0, cmdAt), ...own.slice(cmdAt + 1)]);
  if (fast && args) {
    configureLogger(logLevel(args), args['log-format'] === 'json');
    return (fast.handler as (a: Record<string, unknown>) => Promise<void>)(args);
  }
  const { runFullCli } = await import('./full-cli.js');
  await runFullCli(own, debug);
}

main().catch((err: unknown) => report(err, process.argv.includes('--debug')));
