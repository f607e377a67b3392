// Bundles the CLI into CommonJS files (one script to compile at start-up instead of
// hundreds of modules), then records V8's code cache for each: bin/sif.cjs loads a
// bundle with its cache, so a start-up skips most compiling.
//   dist/sif.cjs       the whole CLI (src/cli/main.ts)
//   dist/sif-exec.cjs  only the fast path of `sif exec` and `sif run` (fastMain in
//                      src/cli/fast-action.ts): under a tenth of the size, so it is read,
//                      deserialised and initialised in a fraction of the time
//   dist/sif-gpu.cjs   the --nv and --device code (src/gpu/nvidia-launch.ts), loaded by
//                      both only when one is given (src/cli/load-gpu.ts), with its cache
//   dist/sif-gpu-image.cjs  --nv-compat's image reader (src/gpu/compat-image.ts), loaded
//                      by the GPU bundle only when its planner asks for the image
//   dist/sif-mpi.cjs   the --mpi code (src/mpi/mpi-launch.ts), likewise only with --mpi
//                      or `sif doctor --mpi` (src/cli/load-mpi.ts)
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// yargs' ES module build lays out its help with cliui's ES module build, whose wrap
// cuts lines at the column whatever the word ("image\ns"); cliui's CommonJS build wraps
// at word boundaries (wrap-ansi). Resolve cliui as a require() would, whoever imports it.
const cliuiWordWrap = {
  name: 'cliui-word-wrap',
  setup(b) {
    b.onResolve({ filter: /^cliui$/ }, (args) =>
      args.kind === 'require-call' ? undefined : b.resolve('cliui', { kind: 'require-call', resolveDir: args.resolveDir }));
  },
};

const common = {
  bundle: true,
  plugins: [cliuiWordWrap],
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  // pino is only needed when logging, and loads its transports by path.
  external: ['pino', 'pino-pretty'],
  // import.meta.url, computed when first used: node:url is not otherwise loaded by exec.
  define: { 'import.meta.url': '__sifModule.url' },
  banner: { js: "const __sifModule = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" },
};
// The other bundles require dist/sif-gpu.cjs and dist/sif-mpi.cjs instead of holding
// the --nv and --mpi code.
const gpuApart = {
  define: { ...common.define, __SIF_GPU_BUNDLE__: '"sif-gpu.cjs"', __SIF_MPI_BUNDLE__: '"sif-mpi.cjs"' },
  plugins: [
    ...common.plugins,
    {
      name: 'options-apart',
      setup: (b) => b.onResolve({ filter: /\/(gpu\/nvidia-launch|mpi\/mpi-launch)\.js$/ }, (args) => ({ path: args.path, external: true })),
    },
  ],
};
await build({ ...common, ...gpuApart, entryPoints: ['src/cli/main.ts'], outfile: 'dist/sif.cjs' });
const imageApart = {
  define: { ...common.define, __SIF_GPU_IMAGE_BUNDLE__: '"sif-gpu-image.cjs"' },
  plugins: [...common.plugins, { name: 'image-apart', setup: (b) => b.onResolve({ filter: /\/compat-image\.js$/ }, (args) => ({ path: args.path, external: true })) }],
};
await build({ ...common, ...imageApart, entryPoints: ['src/gpu/nvidia-launch.ts'], outfile: 'dist/sif-gpu.cjs', minifyWhitespace: true, minifySyntax: true });
await build({ ...common, entryPoints: ['src/gpu/compat-image.ts'], outfile: 'dist/sif-gpu-image.cjs', minifyWhitespace: true, minifySyntax: true });
await build({ ...common, entryPoints: ['src/mpi/mpi-launch.ts'], outfile: 'dist/sif-mpi.cjs', minifyWhitespace: true, minifySyntax: true });
// The exec bundle without whitespace and with simpler syntax (names kept, for stack
// traces): less to read and hash at every start, ~0.5 ms (measured).
await build({
  ...common,
  ...gpuApart,
  entryPoints: ['src/cli/fast-action.ts'],
  outfile: 'dist/sif-exec.cjs',
  minifyWhitespace: true,
  minifySyntax: true,
});

// The caches hold what V8 compiled while running, so each bundle runs what a start-up
// runs: the full CLI its help, the fast path a whole `sif exec` up to the launch plan
// (SIF_DUMP_PLAN stops there), on the smallest image that passes its checks: a bare
// squashfs superblock (magic, 128 KiB blocks, gzip, version 4.0, 96 bytes used).
for (const f of ['sif.cjs', 'sif-exec.cjs', 'sif-gpu.cjs', 'sif-gpu-image.cjs', 'sif-mpi.cjs']) rmSync(`dist/${f}.cache`, { force: true });
const tmp = mkdtempSync(join(tmpdir(), 'sif-bundle-'));
try {
  const sb = Buffer.alloc(96);
  sb.write('hsqs', 0, 'latin1');
  sb.writeUInt32LE(131072, 12);
  sb.writeUInt16LE(1, 20);
  sb.writeUInt16LE(17, 22);
  sb.writeUInt16LE(4, 28);
  sb.writeBigUInt64LE(96n, 40);
  writeFileSync(join(tmp, 'train.sqfs'), sb);
  const env = { ...process.env, SIF_WRITE_CODE_CACHE: '1' };
  execFileSync(process.execPath, ['bin/sif.cjs', 'exec', '--help'], { env, stdio: 'ignore' });
  execFileSync(process.execPath, ['bin/sif.cjs', 'exec', join(tmp, 'train.sqfs'), 'true'], {
    env: { ...env, SIF_DUMP_PLAN: join(tmp, 'plan') },
    stdio: 'ignore',
  });
  // The GPU bundle's own, from `sif exec --nv` (only its cache: the exec bundle's is the
  // plain run's), against a stand-in driver: a version file and this machine's library
  // cache under a directory given through the test seam SIF_TEST_NVIDIA_ROOT. Without a
  // driver the planner stops at its first question, and the rest would be compiled at
  // every start: the plan took 1.4 ms more (minimum of 30, measured).
  const driver = join(tmp, 'driver');
  mkdirSync(join(driver, 'proc/driver/nvidia'), { recursive: true });
  mkdirSync(join(driver, 'etc'));
  writeFileSync(join(driver, 'proc/driver/nvidia/version'), 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n');
  if (existsSync('/etc/ld.so.cache')) copyFileSync('/etc/ld.so.cache', join(driver, 'etc/ld.so.cache'));
  execFileSync(process.execPath, ['bin/sif.cjs', 'exec', '--nv', join(tmp, 'train.sqfs'), 'true'], {
    env: { ...env, SIF_WRITE_CODE_CACHE: 'sif-gpu.cjs', SIF_DUMP_PLAN: join(tmp, 'plan'), SIF_TEST_NVIDIA_ROOT: driver },
    stdio: 'ignore',
  });
  // The image reader's (--nv-compat), the same way: it fails on the empty image, after
  // compiling what it ran.
  spawnSync(process.execPath, ['bin/sif.cjs', 'exec', '--nv', '--nv-compat', join(tmp, 'train.sqfs'), 'true'], {
    env: { ...env, SIF_WRITE_CODE_CACHE: 'sif-gpu-image.cjs', SIF_DUMP_PLAN: join(tmp, 'plan'), SIF_TEST_NVIDIA_ROOT: driver },
    stdio: 'ignore',
  });
  // The MPI bundle's, from `sif exec --mpi`, with a cache directory of its own, so that
  // nothing is taken from or left in the user's. It fails on the empty image (or a host
  // without MPI), after compiling what it ran, which is what the cache holds.
  spawnSync(process.execPath, ['bin/sif.cjs', 'exec', '--mpi', join(tmp, 'train.sqfs'), 'true'], {
    env: { ...env, SIF_WRITE_CODE_CACHE: 'sif-mpi.cjs', SIF_DUMP_PLAN: join(tmp, 'plan'), XDG_RUNTIME_DIR: tmp },
    stdio: 'ignore',
  });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// bin/sif: bin/sif.cjs started by this node directly. `#!/usr/bin/env node` (bin/sif.cjs,
// which npm links) execs env, which searches PATH, then execs node: 2-4 ms of every start
// (measured). Like the scripts pip installs, it names the interpreter that built it;
// a path a shebang cannot hold keeps the env line.
const entry = readFileSync('bin/sif.cjs', 'utf8');
const direct = /^[^\s]+$/.test(process.execPath) && process.execPath.length < 120;
const launcher = direct ? entry.replace(/^#!.*\n/, `#!${process.execPath}\n`) : entry;
rmSync('bin/sif.tmp', { force: true });
writeFileSync('bin/sif.tmp', launcher, { mode: 0o755 });
renameSync('bin/sif.tmp', 'bin/sif');
