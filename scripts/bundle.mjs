// Bundles the CLI into one file: one module to parse at start-up instead of hundreds.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/sif.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  logLevel: 'warning',
  // pino's worker transports are loaded by path, and it is only needed when logging.
  external: ['pino', 'pino-pretty'],
  banner: { js: "import { createRequire as __sifCreateRequire } from 'node:module'; const require = __sifCreateRequire(import.meta.url);" },
});
