/**
 * How wide `--help` is: the terminal's width on a terminal, else $COLUMNS, else 80.
 * (yargs' own default stops at 80 columns however wide the terminal is.)
 */
export function helpWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout, env: NodeJS.ProcessEnv = process.env): number {
  if (stream.isTTY && stream.columns) return stream.columns;
  const cols = Number(env.COLUMNS);
  return Number.isInteger(cols) && cols > 0 ? cols : 80;
}
