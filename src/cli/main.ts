import { fastAction, splitCommandLine } from './fast-action.js';
import { report } from './report.js';

async function main(): Promise<void> {
  const line = splitCommandLine(process.argv.slice(2));
  const fast = fastAction(line);
  if (fast) return fast();
  const debug = line.own.includes('--debug') || line.own.includes('-d');
  const { runFullCli } = await import('./full-cli.js');
  await runFullCli(line.own, debug);
}

main().catch((err: unknown) => report(err, process.argv.includes('--debug')));
