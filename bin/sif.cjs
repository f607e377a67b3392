#!/usr/bin/env node
// Runs dist/sif.cjs with the V8 code cache made at build time (scripts/bundle.mjs):
// compiling the bundle is a large part of start-up, and every `sif exec` pays it.
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const vm = require('node:vm');

const file = join(__dirname, '..', 'dist', 'sif.cjs');
const cacheFile = `${file}.cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // No cache (or not readable): V8 compiles as usual.
}
const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
if (process.env.SIF_WRITE_CODE_CACHE) {
  process.on('exit', () => {
    writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
    renameSync(`${cacheFile}.tmp`, cacheFile);
  });
}
const module_ = { exports: {}, filename: file, id: file, paths: [] };
script.runInThisContext().call(module_.exports, module_.exports, Module.createRequire(file), module_, file, join(__dirname, '..', 'dist'));
