// Bundles the CLI into one CommonJS file (one script to compile at start-up instead
// of hundreds of modules), then records V8's code cache for it: bin/sif.cjs loads
// both, so a start-up skips most compiling.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/sif.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  // pino is only needed when logging, and loads its transports by path.
  external: ['pino', 'pino-pretty'],
  define: { 'import.meta.url': '__sifModuleUrl' },
  banner: { js: "const __sifModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});

rmSync('dist/sif.cjs.cache', { force: true });
execFileSync(process.execPath, ['bin/sif.cjs', 'exec', '--help'], {
  env: { ...process.env, SIF_WRITE_CODE_CACHE: '1' },
  stdio: 'ignore',
});
