// Throughput of mergeLayers into a SquashfsWriter against the floor, on this machine:
//   <decompressor> -dc LAYER | tar2sqfs -c COMPRESSOR -f OUT
// (gzip, zstd or cat, chosen by the layer's magic bytes). Not a jest test; run it as
//   npx esbuild bench/merge-throughput.ts --bundle --platform=node --format=esm \
//     --outfile=.cache/bench-merge.mjs \
//     --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
//   node .cache/bench-merge.mjs LAYER [zstd|gzip|lz4|xz] [ROUNDS]
// e.g. with LAYER made by `tar czf usr.tar.gz -C / usr/share usr/bin usr/lib/x86_64-linux-gnu`.
// Rounds alternate floor and merge; the best of each is compared (the least disturbed
// by other work on the machine).
import { spawnSync } from 'node:child_process';
import { createReadStream, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeLayers } from '../src/build/merge/merge-layers.js';
import { SquashfsWriter, type SquashfsCompressor } from '../src/image/squashfs-writer.js';

const [layer, comp = 'zstd', roundsArg = '2'] = process.argv.slice(2);
if (!layer) throw new Error('usage: bench-merge.mjs LAYER [COMPRESSOR] [ROUNDS]');
const compressor = comp as SquashfsCompressor;
const head = Buffer.alloc(4);
const fd = openSync(layer, 'r');
readSync(fd, head, 0, 4, 0);
closeSync(fd);
const cat = head[0] === 0x1f && head[1] === 0x8b ? 'gzip -dc' : head.readUInt32LE(0) === 0xfd2fb528 ? 'zstd -dc' : 'cat';
const out = join(tmpdir(), `bench-merge-${process.pid}.sqfs`);

function floor(): number {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', `${cat} "$1" | tar2sqfs -q -c ${compressor} -f "$2"`, 'sh', layer as string, out], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`floor: exit ${r.status}`);
  return (performance.now() - t0) / 1000;
}

async function merge(): Promise<number> {
  const t0 = performance.now();
  const w = await SquashfsWriter.create(out, { compressor });
  const stats = await mergeLayers([{ name: layer as string, open: async () => createReadStream(layer as string, { highWaterMark: 1 << 20 }) }], w);
  await w.finish();
  const s = (performance.now() - t0) / 1000;
  console.log(`  ${JSON.stringify(stats)}`);
  return s;
}

const best = { floor: Infinity, merge: Infinity };
for (let i = 0; i < Number(roundsArg); i++) {
  const f = floor();
  const m = await merge();
  best.floor = Math.min(best.floor, f);
  best.merge = Math.min(best.merge, m);
  console.log(`round ${i + 1}: floor (${cat} | tar2sqfs -c ${compressor}) ${f.toFixed(1)} s, mergeLayers ${m.toFixed(1)} s`);
}
rmSync(out, { force: true });
console.log(`best: floor ${best.floor.toFixed(1)} s, mergeLayers ${best.merge.toFixed(1)} s, ratio ${(best.merge / best.floor).toFixed(2)}`);
