// Tables and ratios for bench/run.sh, from hyperfine's --export-json files.
// Usage: node stats.mjs startup ROUND.json...   (rounds are pooled per command name)
//        node stats.mjs read BYTES.txt COMMAND.json...
//        node stats.mjs memory SAMPLES.txt
//        node stats.mjs build RESULTS.txt TIMINGS.txt SIZES.txt
//        node stats.mjs mpi-pingpong RESULTS.txt | mpi-startup TIMES.txt | mpi-memory SAMPLES.txt
//        node stats.mjs pynamic SAMPLES.txt | netfs SAMPLES.txt
// Ratios are taken between commands of the same run only: the machine is shared and
// noisy, so absolute times say little, ratios say how sif compares.
import { readFileSync } from 'node:fs';

const [mode, ...files] = process.argv.slice(2);

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stddev = (xs) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1));
};

/** name -> { times (s), mean, median, stddev, min }, pooled over the given files. */
function load(paths) {
  const times = new Map();
  for (const p of paths) {
    for (const r of JSON.parse(readFileSync(p, 'utf8')).results) {
      times.set(r.command, [...(times.get(r.command) ?? []), ...r.times]);
    }
  }
  const out = new Map();
  for (const [name, t] of times) out.set(name, { times: t, mean: mean(t), median: median(t), stddev: stddev(t), min: Math.min(...t) });
  return out;
}

function table(header, rows) {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  for (const r of cells) console.log('  ' + r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  '));
}

const ms = (s) => (s * 1000).toFixed(1);
const ratioLine = (label, a, b, target) => {
  if (!a || !b) return console.log(`  ${label}: n/a (a command failed, see above)`);
  const rm = a.mean / b.mean, rd = a.median / b.median;
  // Met only when both agree: one slow outlier moves a mean, a bimodal run a median.
  const verdict = target === undefined ? '' : `   target <= ${target}: ${Math.max(rm, rd) <= target ? 'OK' : 'MISSED'}`;
  console.log(`  ${label}: ${rm.toFixed(2)} (means), ${rd.toFixed(2)} (medians)${verdict}`);
};

function startup() {
  const r = load(files);
  table(['command', 'mean ms', 'median ms', 'stddev', 'min ms', 'runs'],
    [...r].map(([n, x]) => [n, ms(x.mean), ms(x.median), ms(x.stddev), ms(x.min), x.times.length]));
  // starter alone = sh -c 'exec starter' minus what the sh wrapper itself costs.
  const w = r.get('starter-wrapped'), sh = r.get('sh-wrap'), tr = r.get('true');
  let starter;
  if (w && sh && tr) {
    starter = { mean: w.mean - (sh.mean - tr.mean), median: w.median - (sh.median - tr.median) };
    console.log(`  starter alone (starter-wrapped - (sh-wrap - true)): ${ms(starter.mean)} ms mean, ${ms(starter.median)} ms median`);
  }
  console.log('ratios:');
  ratioLine('starter alone / ch-run', starter, r.get('ch-run'), 1.0);
  ratioLine('sif / ch-run', r.get('sif'), r.get('ch-run'));
  ratioLine('sif / bwrap', r.get('sif'), r.get('bwrap'));
  ratioLine('sif --pid / sif', r.get('sif-pid'), r.get('sif'));
  const s = r.get('sif'), n = r.get('node');
  if (s && n) {
    const d = (s.mean - n.mean) * 1000, dm = (s.median - n.median) * 1000;
    console.log(`  sif - node floor: ${d.toFixed(1)} ms (means), ${dm.toFixed(1)} ms (medians)   target <= 25 ms: ${Math.max(d, dm) <= 25 ? 'OK' : 'MISSED'}`);
    // The target is in milliseconds, but the machine's speed drifts by tens of per cent
    // between runs: the same gap over ch-run's time (a native start of the same image)
    // is what compares across runs.
    const c = r.get('ch-run');
    if (c) console.log(`  (the same gap / ch-run: ${(d / 1000 / c.mean).toFixed(2)} (means), ${(dm / 1000 / c.median).toFixed(2)} (medians); the 25 ms target then needs ch-run <= ${(25 / (d / 1000 / c.mean)).toFixed(1)} ms)`);
  }
  // --nv's cost: over the same command without it (sif-nv-base when a driver root is given through env).
  const nv = r.get('sif-nv'), nvBase = r.get('sif-nv-base') ?? s;
  if (nv && nvBase) {
    const d = (nv.mean - nvBase.mean) * 1000, dm = (nv.median - nvBase.median) * 1000;
    console.log(`  sif --nv - sif: ${d.toFixed(1)} ms (means), ${dm.toFixed(1)} ms (medians)   target <= 10 ms: ${Math.max(d, dm) <= 10 ? 'OK' : 'MISSED'}`);
    ratioLine('sif --nv / sif', nv, nvBase);
  }
  const p = r.get('sif-plan-only');
  if (s && n && p && starter) {
    console.log('where sif exec\'s time goes (means; each step is the difference of two rows):');
    console.log(`  node start-up and exit   ${ms(n.mean).padStart(6)} ms   node -e 0`);
    console.log(`  sif's JavaScript         ${ms(p.mean - n.mean).padStart(6)} ms   sif-plan-only - node (bundle, image, host, plan; env's exec)`);
    console.log(`  starter + payload        ${ms(starter.mean).padStart(6)} ms   starter alone`);
    console.log(`  rest                     ${ms(s.mean - p.mean - starter.mean).padStart(6)} ms   sif - sif-plan-only - starter alone`);
    console.log('  (rest = handing off to the starter minus Node\'s own exit, which the rows above pay');
    console.log('   and sif exec skips by exec-ing the starter: negative when that exit costs more)');
  }
}

function read() {
  const r = load(files.slice(1));
  const bytes = new Map(readFileSync(files[0], 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [n, b] = l.split(/\s+/);
    return [n, Number(b)];
  }));
  table(['command', 'mean s', 'median s', 'stddev', 'MB read', 'MB/s (mean)', 'runs'],
    [...r].map(([n, x]) => [n, x.mean.toFixed(3), x.median.toFixed(3), x.stddev.toFixed(3),
      (bytes.get(n) / 1e6).toFixed(1), (bytes.get(n) / 1e6 / x.mean).toFixed(0), x.times.length]));
  for (const n of [1, 2]) {
    const got = [...bytes].filter(([k]) => k.endsWith(`-${n}`));
    if (new Set(got.map(([, b]) => b)).size > 1) console.log(`  WARNING: runtimes read different amounts: ${got.map(([k, b]) => `${k}=${b}`).join(' ')}`);
  }
  console.log('ratios (time; > 1 means sif is slower):');
  for (const n of [1, 2]) {
    ratioLine(`${n} reader(s): sif / ch-run`, r.get(`sif-${n}`), r.get(`ch-run-${n}`));
    ratioLine(`${n} reader(s): sif / local`, r.get(`sif-${n}`), r.get(`local-${n}`));
  }
  ratioLine('sif: 2 readers / 1 reader', r.get('sif-2'), r.get('sif-1'));
  ratioLine('ch-run: 2 readers / 1 reader', r.get('ch-run-2'), r.get('ch-run-1'));
  console.log('  (warm: image file and extracted tree in the host page cache; each sif/ch-run run mounts');
  console.log('   the image anew, so its FUSE page cache starts empty and every run decompresses)');
}

/** Prints the table of memory samples; returns "NAME PHASE" -> mean and peak RSS and PSS. */
function memoryTable(file) {
  // Lines: NAME PHASE RSS_KB PSS_KB PROCS THREADS, one per sample.
  const groups = new Map();
  for (const l of readFileSync(file, 'utf8').trim().split('\n').filter(Boolean)) {
    const [name, phase, rss, pss, procs, threads] = l.split(/\s+/);
    const k = `${name} ${phase}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push({ rss: +rss, pss: +pss, procs: +procs, threads: +threads });
  }
  const kb = (x) => (x / 1024).toFixed(1);
  const stat = new Map();
  const rows = [...groups].map(([k, ss]) => {
    const s = { rss: mean(ss.map((x) => x.rss)), pss: mean(ss.map((x) => x.pss)), peakRss: Math.max(...ss.map((x) => x.rss)), peakPss: Math.max(...ss.map((x) => x.pss)) };
    stat.set(k, s);
    return [k, kb(s.rss), kb(s.peakRss), kb(s.pss), kb(s.peakPss), Math.max(...ss.map((x) => x.procs)), Math.max(...ss.map((x) => x.threads)), ss.length];
  });
  table(['runtime phase', 'RSS MiB', 'peak RSS', 'PSS MiB', 'peak PSS', 'procs', 'threads', 'samples'], rows);
  return stat;
}

function memory() {
  const stat = memoryTable(files[0]);
  console.log('ratios (memory; > 1 means sif uses more):');
  for (const name of ['sif', 'sif-pid']) {
    for (const phase of ['idle', 'load']) {
      const a = stat.get(`${name} ${phase}`), b = stat.get(`ch-run ${phase}`);
      if (!a || !b) continue;
      console.log(`  ${name} / ch-run, ${phase}: RSS ${(a.rss / b.rss).toFixed(2)} (peak ${(a.peakRss / b.peakRss).toFixed(2)}), PSS ${(a.pss / b.pss).toFixed(2)} (peak ${(a.peakPss / b.peakPss).toFixed(2)})`);
    }
  }
}

function build() {
  const [resultsFile, timingsFile, sizesFile] = files;
  const lines = (f) => (f ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : []);
  // Lines: NAME SECONDS PEAK_KB, one per run.
  const runs = new Map();
  for (const l of lines(resultsFile)) {
    const [name, secs, kb] = l.split(/\s+/);
    if (!runs.has(name)) runs.set(name, []);
    runs.get(name).push({ secs: +secs, kb: +kb });
  }
  const med = new Map([...runs].map(([n, rs]) => [n, { secs: median(rs.map((r) => r.secs)), kb: Math.max(...rs.map((r) => r.kb)) }]));
  const ch = med.get('ch-image') && med.get('ch-convert')
    ? { secs: med.get('ch-image').secs + med.get('ch-convert').secs, kb: Math.max(med.get('ch-image').kb, med.get('ch-convert').kb) } : null;
  if (ch) med.set('charliecloud (pull + convert)', ch);
  table(['command', 'median s', 'peak RSS MiB', 'runs'],
    [...med].map(([n, m]) => [n, m.secs.toFixed(2), (m.kb / 1024).toFixed(1), runs.get(n)?.length ?? '-']));
  const floor = med.get('floor');
  const ratio = (label, a, target) => {
    if (!a || !floor) return console.log(`  ${label}: n/a (a command failed, see above)`);
    const r = a.secs / floor.secs;
    console.log(`  ${label}: ${r.toFixed(2)}${target === undefined ? '' : `   target <= ${target}: ${r <= target ? 'OK' : 'MISSED'}`}`);
  };
  console.log('ratios to the floor (medians, time; this run only):');
  ratio('sif, cold cache / floor', med.get('sif-cold'), 1.3);
  ratio('sif, warm cache / floor', med.get('sif-warm'), 1.15);
  ratio('charliecloud / floor', ch);
  // SIF_BUILD_TIMINGS lines: NAME total T; download D, blobs B, ...
  const stages = new Map();
  for (const l of lines(timingsFile)) {
    const [name, rest] = l.split(/ total /);
    const [total, parts] = rest.split('; ');
    const row = { total: +total };
    for (const p of parts.split(', ')) {
      const [k, v] = p.split(' ');
      row[k] = +v;
    }
    if (!stages.has(name)) stages.set(name, []);
    stages.get(name).push(row);
  }
  if (stages.size) {
    console.log("where sif's time goes (medians, s): source (manifest, config) first; then the merge thread's wall time =");
    console.log('  blobs + inflate + compress + merge, the download beside it and the digests inside it; finish last:');
    const keys = ['total', 'source', 'download', 'blobs', 'inflate', 'compress', 'merge', 'digest', 'finish'];
    table(['build', ...keys], [...stages].map(([n, rows]) => [n, ...keys.map((k) => median(rows.map((r) => r[k] ?? 0)).toFixed(2))]));
  }
  const sizes = lines(sizesFile).map((l) => {
    const i = l.lastIndexOf(' ');
    return [l.slice(0, i), +l.slice(i + 1)];
  });
  if (sizes.length) {
    console.log('compression (warm cache: time; size of the file):');
    const warm = (c) => med.get(c === 'default' ? 'sif-warm' : `sif-warm-${c}`);
    table(['compression', 'median s', 'MiB'], sizes.map(([c, bytes]) => [c === 'default' ? 'zstd:3 (default)' : c,
      warm(c) ? warm(c).secs.toFixed(2) : '-', (bytes / 1048576).toFixed(1)]));
  }
}

// Ping-pong lines: NAME ROUND BYTES LATENCY_US MBPS. Medians over rounds; each
// configuration against native (a -nocma one against native-nocma: same MPI settings).
function mpiPingpong() {
  const runs = new Map();
  for (const l of readFileSync(files[0], 'utf8').trim().split('\n').filter(Boolean)) {
    const [name, , bytes, lat, mbps] = l.split(/\s+/);
    const k = `${name} ${bytes}`;
    if (!runs.has(k)) runs.set(k, []);
    runs.get(k).push({ lat: +lat, mbps: +mbps });
  }
  const names = [...new Set([...runs.keys()].map((k) => k.split(' ')[0]))];
  const med = (name, bytes, f) => (runs.has(`${name} ${bytes}`) ? median(runs.get(`${name} ${bytes}`).map(f)) : undefined);
  const MiB = 1048576;
  table(['configuration', '8 B latency us', '1 MiB MB/s', '4 MiB MB/s', 'rounds'],
    names.map((n) => [n, med(n, 8, (r) => r.lat)?.toFixed(3) ?? '-', med(n, MiB, (r) => r.mbps)?.toFixed(0) ?? '-',
      med(n, 4 * MiB, (r) => r.mbps)?.toFixed(0) ?? '-', runs.get(`${n} 8`)?.length ?? 0]));
  console.log('ratios to native (medians; latency: > 1 is slower; bandwidth: < 1 is slower; target within 5%):');
  for (const n of names.filter((x) => !x.startsWith('native'))) {
    const base = n.endsWith('-nocma') ? 'native-nocma' : 'native';
    const parts = [];
    let ok = true;
    for (const [label, bytes, f, better] of [['8 B latency', 8, (r) => r.lat, -1], ['1 MiB bandwidth', MiB, (r) => r.mbps, 1], ['4 MiB bandwidth', 4 * MiB, (r) => r.mbps, 1]]) {
      const a = med(n, bytes, f), b = med(base, bytes, f);
      if (a === undefined || b === undefined) { parts.push(`${label} n/a`); ok = false; continue; }
      const r = a / b;
      if (better < 0 ? r > 1.05 : r < 0.95) ok = false;
      parts.push(`${label} ${r.toFixed(2)}`);
    }
    console.log(`  ${n} / ${base}: ${parts.join(', ')}   ${ok ? 'OK' : 'MISSED'}`);
  }
}

function mpiStartup() {
  // Lines: NAME START END (seconds since the epoch), one per run.
  const times = new Map();
  for (const l of readFileSync(files[0], 'utf8').trim().split('\n').filter(Boolean)) {
    const [name, t0, t1] = l.split(/\s+/);
    times.set(name, [...(times.get(name) ?? []), Number(t1) - Number(t0)]);
  }
  const r = new Map([...times].map(([n, t]) => [n, { times: t, mean: mean(t), median: median(t), stddev: stddev(t), min: Math.min(...t) }]));
  table(['command', 'mean ms', 'median ms', 'stddev', 'min ms', 'runs'],
    [...r].map(([n, x]) => [n, ms(x.mean), ms(x.median), ms(x.stddev), ms(x.min), x.times.length]));
  console.log('ratios (time of the whole step; > 1 is slower):');
  ratioLine('srun sif exec / srun true', r.get('srun-sif'), r.get('srun-true'));
  ratioLine('srun sif exec / srun ch-run', r.get('srun-sif'), r.get('srun-ch-run'));
  ratioLine('srun ch-run / srun true', r.get('srun-ch-run'), r.get('srun-true'));
  ratioLine('srun sif exec --mpi / srun true', r.get('srun-sif-mpi'), r.get('srun-true'));
  ratioLine('srun sif exec --mpi / srun ch-run', r.get('srun-sif-mpi'), r.get('srun-ch-run'));
  ratioLine('srun sif exec --mpi / srun sif exec (bare image)', r.get('srun-sif-mpi'), r.get('srun-sif-bare'));
  // BENCH_MPI_BASE: the same rows with another sif (before a change), in this run.
  if (r.has('base-srun-sif-mpi') || r.has('base-srun-sif-bare')) {
    ratioLine('before: srun sif exec --mpi / srun true', r.get('base-srun-sif-mpi'), r.get('srun-true'));
    ratioLine('before: srun sif exec --mpi / srun sif exec (bare image)', r.get('base-srun-sif-mpi'), r.get('base-srun-sif-bare'));
    ratioLine('after / before, srun sif exec --mpi', r.get('srun-sif-mpi'), r.get('base-srun-sif-mpi'));
    ratioLine('after / before, srun sif exec (bare image)', r.get('srun-sif-bare'), r.get('base-srun-sif-bare'));
  }
  ratioLine('srun sif exec joining the waiting container / making one (--share-linger 0)', r.get('srun-sif'), r.get('srun-sif-fresh'));
  const s = r.get('srun-sif'), t = r.get('srun-true'), m = r.get('srun-sif-mpi'), b = r.get('srun-sif-bare');
  if (s && t) console.log(`  sif's cost per step: ${ms(s.mean - t.mean)} ms (means), ${ms(s.median - t.median)} ms (medians)`);
  if (m && b) console.log(`  --mpi's cost per step: ${ms(m.mean - b.mean)} ms (means), ${ms(m.median - b.median)} ms (medians)`);
}

function mpiMemory() {
  const stat = memoryTable(files[0]);
  if ([...stat.values()].every((s) => s.pss === 0)) console.log('  (PSS reads 0: the starter is not dumpable, so its smaps_rollup is closed to its own user)');
  const a = stat.get('sif-no-share idle'), b = stat.get('sif idle');
  if (a && b) console.log(`  one container per rank / one per node: RSS ${(a.rss / b.rss).toFixed(2)}, PSS ${(a.pss / b.pss).toFixed(2)}`);
}

// Lines "ROW METRIC SECONDS ..." (pynamic.sh, netfs.sh): the rows, the metrics, and
// each row's median of a metric, plain and as "SECONDS (RUNS)" (or "-").
function rowSamples(file) {
  const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
  const seconds = (rt, m) => rows.filter((r) => r[0] === rt && r[1] === m).map((r) => +r[2]);
  const med = (rt, m) => (seconds(rt, m).length ? median(seconds(rt, m)) : undefined);
  const fmt = (rt, m) => (med(rt, m) === undefined ? '-' : `${med(rt, m).toFixed(3)} (${seconds(rt, m).length})`);
  return { rows, runtimes: [...new Set(rows.map((r) => r[0]))], metrics: [...new Set(rows.map((r) => r[1]))], med, fmt };
}

// Lines "RUNTIME METRIC SECONDS [BYTES]" from bench/pynamic.sh; medians, and every
// runtime against the kernel's squashfs, with the targets of sif's read path.
function pynamic() {
  const { rows, runtimes, metrics, med, fmt } = rowSamples(files[0]);
  console.log('medians, seconds (runs):');
  table(['metric', ...runtimes], metrics.map((m) => [m, ...runtimes.map((rt) => fmt(rt, m))]));
  // Every runtime must have read the same bytes, or the timings compare different work.
  for (const m of metrics.filter((x) => x.startsWith('tar'))) {
    const bytes = new Set(rows.filter((r) => r[1] === m).map((r) => `${r[0]} ${r[3]}`));
    const counts = new Set([...bytes].map((b) => b.split(' ')[1]));
    if (counts.size > 1) console.log(`  WARNING: ${m} read different byte counts: ${[...bytes].join(', ')}`);
  }
  const targets = { 'import-repeat': 1.3, 'import-first': 0.65, tar1: 1.0, tar2: 0.6 };
  // For sif's own row, and sif --store-ahead's (sif-store); rows of other starters
  // (BENCH_STARTERS) only show their ratios.
  const verdict = (m, t) => {
    const one = (rt) => {
      const a = med(rt, m), k = med('kernel', m);
      if (a === undefined || !k) return undefined;
      // The table's two decimals can round a miss onto the target: then show it exactly.
      return a / k <= t ? 'OK' : +(a / k).toFixed(2) <= t ? `MISSED (${(a / k).toFixed(3)})` : 'MISSED';
    };
    const plain = one('sif'), store = one('sif-store');
    return (plain ? `: ${plain}` : '') + (store ? ` (--store-ahead: ${store})` : '');
  };
  // A second sif exec of a job within the reuse window, against a repeated import in a live container.
  const reuse = med('sif-reuse', 'import-first'), repeat = med('sif', 'import-repeat');
  if (reuse !== undefined && repeat) {
    console.log(`second sif exec within the reuse window (sif-reuse import-first) / repeated import in a live container (sif import-repeat): ${(reuse / repeat).toFixed(2)}   target <= 1.3: ${reuse / repeat <= 1.3 ? 'OK' : 'MISSED'}`);
  }
  console.log('ratios to the kernel squashfs (medians; targets for sif):');
  table(['metric', ...runtimes.filter((r) => r !== 'kernel'), 'target'], metrics.map((m) => [m,
    ...runtimes.filter((r) => r !== 'kernel').map((rt) => {
      const a = med(rt, m), k = med('kernel', m);
      return a === undefined || !k ? '-' : (a / k).toFixed(2);
    }),
    targets[m] === undefined ? '' : `<= ${targets[m]}${verdict(m, targets[m])}`]));
}

// Lines "ROW METRIC SECONDS" from bench/netfs.sh: medians, and how many times faster the
// image is than the tree on the same network file system, caches dropped.
function netfs() {
  const { metrics, med, fmt } = rowSamples(files[0]);
  // The cold import, in the loop and as the whole command (start-up included), is the target.
  const targets = { 'import-first': 3, 'import-wall': 3 };
  console.log('medians, seconds (runs); speed-up = tree / image:');
  table(['metric', 'image', 'tree', 'speed-up', 'target'], metrics.map((m) => {
    const i = med('image', m), t = med('tree', m);
    const up = i && t ? t / i : undefined;
    const target = targets[m] === undefined ? '' : `>= ${targets[m]}${up === undefined ? '' : up >= targets[m] ? ': OK' : ': MISSED'}`;
    return [m, fmt('image', m), fmt('tree', m), up === undefined ? '-' : up.toFixed(2), target];
  }));
}

({ startup, read, memory, build, pynamic, netfs, 'mpi-pingpong': mpiPingpong, 'mpi-startup': mpiStartup, 'mpi-memory': mpiMemory })[mode]();
