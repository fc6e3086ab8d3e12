// Benchmarks for @bgsnap/page-bitmap, run against the built dist/ (`pnpm bench` builds first).
// Prints ns/op, the figures the targets refer to, and ratios against baselines measured in this
// same run: a naive one-byte-per-page Uint8Array for the bitmap operations, and the Uint32Array
// kernel for the BigUint64Array comparison. Targets are reported here, never asserted in tests.
//
// Each group runs in its own child process, so that one variant's JIT feedback (polymorphic call
// sites, deoptimisations) cannot slow down another's: the save loop uses one variant at a time.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { AtomicPageBitmap, PageBitmap } from '../dist/index.js';

const SIZES = [262_144, 4_194_304];
const DENSITIES = [0.01, 0.5, 0.99];
const quick = process.argv.includes('--quick');
const REPS = quick ? 3 : 7;

let seed = 0x9e3779b9;
function reseed(v) {
  seed = v >>> 0 || 1;
}
function random() {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}

/**
 * Best wall time in ns of `fn()` over REPS runs, after a warm-up. Best-of, not median: the
 * machines are shared, and the minimum is the figure that other load disturbs least.
 */
let lastWall = 1;
let lastCpu = 1;
function timeNs(fn, reps = REPS) {
  // Warm up until the JIT has had a fair chance: at least 3 runs and 30 ms, at most 200 runs.
  const warmEnd = performance.now() + 30;
  for (let i = 0; i < 200 && (i < 3 || performance.now() < warmEnd); i++) fn();
  let wall = Number.POSITIVE_INFINITY;
  let cpu = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    wall = Math.min(wall, Number(process.hrtime.bigint() - t0));
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) * 1000);
  }
  // CPU time alongside wall time: on a shared, overloaded machine the process is descheduled for
  // part of the wall time, and CPU time shows what the operation itself cost.
  lastWall = wall;
  lastCpu = cpu;
  return wall;
}

/** ns per call of a fast operation, timed over enough calls to be measurable. */
function perCallNs(fn, calls) {
  return (
    timeNs(() => {
      for (let i = 0; i < calls; i++) fn(i);
    }) / calls
  );
}

const rows = [];
/** Records a figure derived from the last timeNs() call; its CPU-time twin is scaled alike. */
function row(group, name, nsPerOp, extra = {}) {
  rows.push({ group, name, nsPerOp, cpuPerOp: (nsPerOp * lastCpu) / lastWall, ...extra });
}
const fmt = (ns) =>
  ns >= 1e6
    ? `${(ns / 1e6).toFixed(2)} ms`
    : ns >= 1e3
      ? `${(ns / 1e3).toFixed(2)} µs`
      : `${ns.toFixed(1)} ns`;

let sink = 0;

// ---------------------------------------------------------------------------------------------
// 1. Word size: the same dense kernels over Uint32Array and BigUint64Array.
// ---------------------------------------------------------------------------------------------
function wordComparison() {
  const bits = 4_194_304;
  const u32 = new Uint32Array(bits / 32);
  const u64 = new BigUint64Array(bits / 64);
  for (let i = 0; i < bits; i++) {
    if (random() < 0.5) {
      u32[i >>> 5] |= 1 << (i & 31);
      u64[i >>> 6] |= 1n << BigInt(i & 63);
    }
  }
  const empty32 = new Uint32Array(bits / 32);
  const empty64 = new BigUint64Array(bits / 64);
  const idx = new Uint32Array(1 << 16).map(() => Math.floor(random() * bits));

  const ctz32 = (v) => 31 - Math.clz32(v & -v);
  const pop32 = (v) => {
    v -= (v >>> 1) & 0x55555555;
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
  };
  // BigInt has no clz/popcount: the usual route is to split the word into two 32-bit Numbers.
  const lo = (w) => Number(w & 0xffffffffn);
  const hi = (w) => Number(w >> 32n);

  const scan32 = (a) => {
    for (let k = 0; k < a.length; k++) if (a[k] !== 0) return k * 32 + ctz32(a[k]);
    return -1;
  };
  const scan64 = (a) => {
    for (let k = 0; k < a.length; k++) {
      const w = a[k];
      if (w !== 0n) {
        const l = lo(w);
        return k * 64 + (l !== 0 ? ctz32(l) : 32 + ctz32(hi(w)));
      }
    }
    return -1;
  };
  const visit32 = (a) => {
    let acc = 0;
    for (let k = 0; k < a.length; k++) {
      let w = a[k];
      while (w !== 0) {
        acc += k * 32 + ctz32(w);
        w &= w - 1;
      }
    }
    return acc;
  };
  const visit64 = (a) => {
    let acc = 0;
    for (let k = 0; k < a.length; k++) {
      let w = a[k];
      while (w !== 0n) {
        const l = lo(w);
        acc += k * 64 + (l !== 0 ? ctz32(l) : 32 + ctz32(hi(w)));
        w &= w - 1n;
      }
    }
    return acc;
  };
  const count32 = (a) => {
    let n = 0;
    for (let k = 0; k < a.length; k++) n += pop32(a[k]);
    return n;
  };
  const count64 = (a) => {
    let n = 0;
    for (let k = 0; k < a.length; k++) {
      const w = a[k];
      n += pop32(lo(w)) + pop32(hi(w));
    }
    return n;
  };
  // Single-bit ops as whole loops with a used result, so the JIT cannot drop the work.
  const calls = 1 << 20;
  const test32 = () => {
    let acc = 0;
    for (let i = 0; i < calls; i++) {
      const j = idx[i & 0xffff];
      acc += (u32[j >>> 5] >>> (j & 31)) & 1;
    }
    sink += acc;
  };
  const test64 = () => {
    let acc = 0;
    for (let i = 0; i < calls; i++) {
      const j = idx[i & 0xffff];
      acc += Number((u64[j >>> 6] >> BigInt(j & 63)) & 1n);
    }
    sink += acc;
  };
  const set32 = () => {
    for (let i = 0; i < calls; i++) {
      const j = idx[i & 0xffff];
      u32[j >>> 5] |= 1 << (j & 31);
    }
  };
  const set64 = () => {
    for (let i = 0; i < calls; i++) {
      const j = idx[i & 0xffff];
      u64[j >>> 6] |= 1n << BigInt(j & 63);
    }
  };

  if (count32(u32) !== count64(u64) || visit32(u32) !== visit64(u64))
    throw new Error('word kernels disagree');
  const cases = [
    [
      'find next set, all-clear 4,194,304 bits',
      () => (sink += scan32(empty32)),
      () => (sink += scan64(empty64)),
      1,
    ],
    ['visit every set bit, 50% of 4,194,304', () => (sink += visit32(u32)), () => (sink += visit64(u64)), 1],
    ['popcount 4,194,304 bits', () => (sink += count32(u32)), () => (sink += count64(u64)), 1],
    ['test one random bit', test32, test64, calls],
    ['set one random bit', set32, set64, calls],
  ];
  for (const [name, f32, f64, calls] of cases) {
    const a = timeNs(f32) / calls;
    const b = timeNs(f64) / calls;
    row('word size', name, a, { u64: b, ratio: b / a });
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Scans over PageBitmap and AtomicPageBitmap, against a naive byte-per-page baseline.
// ---------------------------------------------------------------------------------------------
function naiveNextSet(bytes, from) {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return i;
  return -1;
}
function naiveVisit(bytes) {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) acc += i;
  return acc;
}

const TARGET_SKIP_NS = 1e6; // skip an all-clear 4,194,304-page bitmap in < 1 ms
const TARGET_VISIT_NS = 30e6; // visit every set bit at 50% density in < 30 ms

function makeVariant(variant, size) {
  if (variant === 'naive') return new Uint8Array(size);
  return variant === 'PageBitmap' ? new PageBitmap(size) : new AtomicPageBitmap(size);
}

/** Fills `bm` with the same pseudo-random bits for a given (size, density) in every process. */
function populate(variant, bm, size, density) {
  reseed(size ^ Math.round(density * 1000));
  let set = 0;
  for (let i = 0; i < size; i++) {
    if (random() < density) {
      set++;
      if (variant === 'naive') bm[i] = 1;
      else bm.set(i);
    }
  }
  return set;
}

function scans(variant, size) {
  const bm = makeVariant(variant, size);
  const name = variant === 'naive' ? 'naive Uint8Array' : variant;
  // Skip: every page clear except the last, so the scan must cross the whole bitmap (an entirely
  // empty PageBitmap answers from its set-bit total in O(1), which would measure nothing).
  if (variant === 'naive') {
    bm[size - 1] = 1;
    const ns = perCallNs(() => (sink += naiveNextSet(bm, 0)), 3);
    row('scan', `${name}: find next set, only the last page set`, ns, { size, density: 0, op: 'skip' });
  } else {
    bm.set(size - 1);
    if (bm.nextSet(0) !== size - 1) throw new Error(`${name}: nextSet(0) !== ${size - 1}`);
    const ns = perCallNs(() => (sink += bm.nextSet(0)), size > 1e6 ? 200 : 1000);
    row('scan', `${name}: nextSet(0), only the last page set`, ns, {
      size,
      density: 0,
      op: 'skip',
      target: size === 4_194_304 ? TARGET_SKIP_NS : undefined,
    });
  }
  for (const density of DENSITIES) {
    if (variant === 'naive') bm.fill(0);
    else bm.fill(false);
    const set = populate(variant, bm, size, density);
    if (variant === 'naive') {
      row(
        'scan',
        `${name}: visit every set bit`,
        timeNs(() => (sink += naiveVisit(bm))),
        {
          size,
          density,
          op: 'visit',
          perBit: undefined,
        },
      );
      continue;
    }
    if (bm.count() !== set) throw new Error(`${name} count ${bm.count()} !== ${set}`);
    // Every set bit through nextSet(i + 1): the per-call cost of the scan primitive.
    const walk = timeNs(() => {
      let acc = 0;
      for (let i = bm.nextSet(0); i >= 0; i = bm.nextSet(i + 1)) acc = (acc + i) | 0;
      sink += acc;
    });
    row('scan', `${name}: nextSet(i + 1) walk over every set bit`, walk, {
      size,
      density,
      op: 'visit',
      perBit: walk / set,
    });
    // Every set bit through forEachRun, the callback touching each page of each run (summing in a
    // local, as a real loop would, rather than in a captured variable).
    const visit = timeNs(() => {
      let acc = 0;
      bm.forEachRun((s, l) => {
        let a = 0;
        for (let i = s, e = s + l; i < e; i++) a = (a + i) | 0;
        acc = (acc + a) | 0;
      });
      sink += acc;
    });
    row('scan', `${name}: forEachRun, callback visits every set bit`, visit, {
      size,
      density,
      op: 'visit',
      perBit: visit / set,
      target: density === 0.5 ? TARGET_VISIT_NS : undefined,
    });
    let runCount = 0;
    const runsOnly = timeNs(() => {
      runCount = 0;
      bm.forEachRun(() => {
        runCount++;
      });
    });
    row('scan', `${name}: forEachRun, runs only`, runsOnly, {
      size,
      density,
      perRun: runsOnly / runCount,
      runs: runCount,
    });
    const iter = timeNs(() => {
      let n = 0;
      for (const [, l] of bm.runs()) n += l;
      sink += n;
    });
    row('scan', `${name}: runs() iterator`, iter, { size, density, perRun: iter / runCount, runs: runCount });
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Single-bit hot operations.
// ---------------------------------------------------------------------------------------------
function hotOps(variant) {
  const size = 4_194_304;
  reseed(42);
  const idx = new Uint32Array(1 << 16).map(() => Math.floor(random() * size));
  const calls = 1 << 21;
  if (variant === 'naive') {
    const naive = new Uint8Array(size);
    const ns = timeNs(() => {
      for (let i = 0; i < calls; i++) naive[idx[i & 0xffff]] = 1;
    });
    row('hot', 'naive Uint8Array: store one byte', ns / calls, { op: 'base' });
    return;
  }
  const bm = makeVariant(variant, size);
  // Explicit loops (no per-call closure) so that the figure is the operation, not the harness.
  const loop = (name, op) => row('hot', `${variant}: ${name}`, timeNs(op) / calls);
  loop('set', () => {
    for (let i = 0; i < calls; i++) bm.set(idx[i & 0xffff]);
  });
  loop('test', () => {
    let acc = 0;
    for (let i = 0; i < calls; i++) if (bm.test(idx[i & 0xffff])) acc++;
    sink += acc;
  });
  loop('clear', () => {
    for (let i = 0; i < calls; i++) bm.clear(idx[i & 0xffff]);
  });
  for (let i = 0; i < size; i += 64) bm.set(i);
  loop('nextSet(random index), 1/64 of pages set', () => {
    let acc = 0;
    for (let i = 0; i < calls; i++) acc = (acc + bm.nextSet(idx[i & 0xffff])) | 0;
    sink += acc;
  });
  if (variant === 'AtomicPageBitmap') {
    loop('testAndSet', () => {
      for (let i = 0; i < calls; i++) bm.testAndSet(idx[i & 0xffff]);
    });
    let claimed = 0;
    const claim = timeNs(() => {
      bm.fill(false);
      claimed = 0;
      for (let r = bm.claimRun(0, 64); r !== null; r = bm.claimRun(r[0] + r[1], 64)) claimed += r[1];
    }, 3);
    row('hot', `${variant}: claimRun(from, 64) sweeping an empty bitmap, per page`, claim / claimed);
  }
}

/** The sparse layout at the 2^32-page maximum: one bit set at the very end, found via the summary. */
function huge() {
  const size = 2 ** 32;
  const bm = new PageBitmap(size);
  bm.set(size - 1);
  row(
    'huge',
    'PageBitmap(2^32), one bit at the end: nextSet(0)',
    perCallNs(() => (sink += bm.nextSet(0)), 2000),
    {
      memory: bm.memoryBytes(),
    },
  );
  row(
    'huge',
    'PageBitmap(2^32), one bit at the end: forEachRun over all',
    perCallNs(() => bm.forEachRun(() => {}), 2000),
    {
      memory: bm.memoryBytes(),
    },
  );
  bm.fill(true);
  bm.clear(size - 1);
  row(
    'huge',
    'PageBitmap(2^32), all set but the last: nextClear(0)',
    perCallNs(() => (sink += bm.nextClear(0)), 2000),
    {
      memory: bm.memoryBytes(),
    },
  );
  row(
    'huge',
    'PageBitmap(2^32), all set but the last: toBytes()',
    perCallNs(() => (sink += bm.toBytes().length), 20),
    {
      memory: bm.memoryBytes(),
      bytes: bm.toBytes().length,
    },
  );
}

function runJob(job) {
  if (job.group === 'huge') huge();
  else if (job.group === 'words') wordComparison();
  else if (job.group === 'scan') scans(job.variant, job.size);
  else hotOps(job.variant);
  process.stdout.write(JSON.stringify(rows));
}

const jobArg = process.argv.indexOf('--job');
if (jobArg >= 0) {
  runJob(JSON.parse(process.argv[jobArg + 1]));
  process.exit(0);
}

const t0 = Date.now();
const loadAtStart = os.loadavg();
const VARIANTS = ['naive', 'PageBitmap', 'AtomicPageBitmap'];
const jobs = [{ group: 'words' }];
for (const size of SIZES) for (const variant of VARIANTS) jobs.push({ group: 'scan', variant, size });
jobs.push({ group: 'huge' });
for (const variant of VARIANTS) jobs.push({ group: 'hot', variant });
for (const job of jobs) {
  const args = [fileURLToPath(import.meta.url), '--job', JSON.stringify(job)];
  if (quick) args.push('--quick');
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error(`bench job ${JSON.stringify(job)} failed with status ${r.status}`);
  }
  rows.push(...JSON.parse(r.stdout));
}
const baseOf = (r) =>
  rows.find(
    (b) =>
      b.group === r.group &&
      b.name.startsWith('naive') &&
      b.size === r.size &&
      b.density === r.density &&
      b.op === r.op,
  );

// ---------------------------------------------------------------------------------------------
console.log(`@bgsnap/page-bitmap benchmark — node ${process.version}, ${new Date().toISOString()}`);
console.log(
  `${os.cpus().length} CPUs, load average at start ${loadAtStart.map((l) => l.toFixed(1)).join(' ')}, at end ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; times are the best of ${REPS} runs, wall clock (CPU time of the process in brackets)`,
);
console.log('\n## Word size: Uint32Array vs BigUint64Array (same data, same algorithm)\n');
console.log('| operation | Uint32Array | BigUint64Array | BigUint64 / Uint32 |');
console.log('|---|---:|---:|---:|');
for (const r of rows.filter((r) => r.group === 'word size')) {
  const verdict = r.ratio >= 1 ? `${r.ratio.toFixed(1)}× slower` : `${(1 / r.ratio).toFixed(1)}× faster`;
  console.log(`| ${r.name} | ${fmt(r.nsPerOp)} | ${fmt(r.u64)} | ${verdict} |`);
}
console.log(
  '\n## Scans (time per whole operation; vs naive = naive Uint8Array time / this time, higher is better)\n',
);
console.log('| pages | density | operation | time | per set bit / run | vs naive | target | result |');
console.log('|---:|---:|---|---:|---:|---:|---:|---|');
for (const r of rows.filter((r) => r.group === 'scan')) {
  const per =
    r.perBit !== undefined
      ? `${fmt(r.perBit)}/bit`
      : r.perRun !== undefined
        ? `${fmt(r.perRun)}/run (${r.runs.toLocaleString('en')} runs)`
        : '';
  const target = r.target === undefined ? '' : `< ${fmt(r.target)}`;
  const result =
    r.target === undefined
      ? ''
      : r.nsPerOp < r.target
        ? 'PASS'
        : r.cpuPerOp < r.target
          ? 'FAIL wall / PASS cpu (machine load)'
          : 'FAIL';
  const base = r.name.startsWith('naive') ? undefined : baseOf(r);
  const ratio = base === undefined ? '' : `${(base.nsPerOp / r.nsPerOp).toFixed(1)}×`;
  console.log(
    `| ${r.size.toLocaleString('en')} | ${r.density * 100}% | ${r.name} | ${fmt(r.nsPerOp)} (${fmt(r.cpuPerOp)}) | ${per} | ${ratio} | ${target} | ${result} |`,
  );
}
console.log('\n## 2^32 pages (16 TiB of 4 KiB pages), sparse\n');
console.log('| operation | time | storage allocated |');
console.log('|---|---:|---:|');
for (const r of rows.filter((r) => r.group === 'huge')) {
  const extra = r.bytes === undefined ? '' : ` (${r.bytes} bytes out)`;
  console.log(
    `| ${r.name}${extra} | ${fmt(r.nsPerOp)} (${fmt(r.cpuPerOp)}) | ${(r.memory / 2 ** 20).toFixed(2)} MiB |`,
  );
}
console.log('\n## Single-bit operations, random indices over 4,194,304 pages (ns/op)\n');
console.log('| operation | ns/op | vs naive byte store |');
console.log('|---|---:|---:|');
const hotBase = rows.find((r) => r.group === 'hot' && r.op === 'base');
for (const r of rows.filter((r) => r.group === 'hot')) {
  console.log(
    `| ${r.name} | ${r.nsPerOp.toFixed(1)} (${r.cpuPerOp.toFixed(1)}) | ${r === hotBase ? '' : `${(r.nsPerOp / hotBase.nsPerOp).toFixed(1)}×`} |`,
  );
}
const checked = rows.filter((r) => r.target !== undefined);
const failed = checked.filter((r) => !(r.nsPerOp < r.target));
console.log(
  `\ntargets: ${checked.length - failed.length} of ${checked.length} met; bench took ${((Date.now() - t0) / 1000).toFixed(1)} s (sink ${sink > 0 ? '+' : '-'})`,
);
