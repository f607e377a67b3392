/**
 * Makes stdout and stderr blocking when they are pipes. The full CLI ends with
 * process.exit (yargs after --help, report() after an error), and Node drops what a
 * pipe has not taken yet: `sif build --help | less` on a wide terminal, or a long
 * `sif inspect` into a pipe, was cut at 64 KiB.
 */
export function makeOutputBlocking(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const handle = (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle;
    handle?.setBlocking?.(true);
  }
}
