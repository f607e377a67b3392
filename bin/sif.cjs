#!/usr/bin/env node
// Runs the CLI from its bundles (scripts/bundle.mjs) with the V8 code cache made at
// build time: compiling is a large part of start-up, and every `sif exec` pays it.
// `sif exec` and `sif run` start from a small bundle holding only their fast path;
// everything else, and what that path leaves to the full CLI, from dist/sif.cjs.
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const vm = require('node:vm');

const dist = join(__dirname, '..', 'dist');

/**
 * Runs dist/NAME as a CommonJS module and returns its exports. Its require is this
 * file's: the bundles require Node's built-in modules only (pino, the one package
 * they load, is resolved from the bundle's own path: src/cli/logger.ts).
 */
function load(name) {
  const file = join(dist, name);
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // No cache (or not readable): V8 compiles as usual.
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${readFileSync(file, 'utf8')}\n})`;
  const script = new vm.Script(wrapped, { filename: file, cachedData });
  // At build time: '1' writes every loaded bundle's cache, a bundle's name only its own.
  const write = process.env.SIF_WRITE_CODE_CACHE;
  if (write === '1' || write === name) {
    process.on('exit', () => {
      writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
      renameSync(`${cacheFile}.tmp`, cacheFile);
    });
  }
  const module_ = { exports: {}, filename: file, id: file, paths: [] };
  script.runInThisContext().call(module_.exports, module_.exports, require, module_, file, dist);
  return module_.exports;
}

// The bundles load dist/sif-gpu.cjs (--nv, --device) through here too, with its cache.
globalThis[Symbol.for('sif.loadBundle')] = load;

const args = process.argv.slice(2);
if (!((args.includes('exec') || args.includes('run')) && load('sif-exec.cjs').fastMain(args))) load('sif.cjs');
