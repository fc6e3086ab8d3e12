// Compares the policies under the synthetic plain-mode latency model (./testing runLatencyModel):
// writer latency percentiles (ground truth) and scan throughput, per scenario. Deterministic (seeded);
// the figures in the README come from this script. Run against dist/.
import { latencyTarget, threshold, tokenBucket, unlimited } from '../dist/index.js';
import { runLatencyModel } from '../dist/testing.js';

const MiB = 2 ** 20;
const MS = 1e6;
const stall = { everyNs: 250 * MS, forNs: 50 * MS };
const scenarios = [
  ['A: sink stalls 50ms/250ms, writer HWM 8MiB, 1MiB writes', { stall }],
  [
    'B: as A, writer HWM 2MiB, 256KiB writes (window must be learnt)',
    { stall, highWaterMark: 2 * MiB, batchBytes: 256 * 1024 },
  ],
  [
    'C: as B, backend without fault times (upper bound only)',
    { stall, highWaterMark: 2 * MiB, batchBytes: 256 * 1024, knowsFaultTime: false },
  ],
  [
    'D: as B, stalls stop at 1s (recovery)',
    { stall: { ...stall, untilNs: 1e9 }, highWaterMark: 2 * MiB, batchBytes: 256 * 1024 },
  ],
  ['E: no stalls, slow scan 20us/page (scan work dominates)', { scanNsPerPage: 20_000 }],
  [
    'F: as A, stream is half the reported bytes (zero pages), loop does not call onBacklog',
    { stall, streamRatio: 0.5, reportBacklog: false },
  ],
  [
    'G: as A, stream 1% larger than reported (record headers), loop does not call onBacklog',
    { stall, streamRatio: 1.01, reportBacklog: false },
  ],
  ['H: as G, loop calls onBacklog', { stall, streamRatio: 1.01 }],
];
const policies = [
  ['unlimited', () => unlimited()],
  ['threshold (patch: sinceFetch)', () => threshold()],
  ['threshold (true measure)', () => threshold({ measure: 'true' })],
  ['token-bucket 200MiB/s', () => tokenBucket({ bytesPerSecond: 200 * MiB, burstBytes: 4 * MiB })],
  ['latency-target aimd (default)', () => latencyTarget()],
  ['latency-target codel (wbt)', () => latencyTarget({ control: 'codel' })],
  ['latency-target pi', () => latencyTarget({ control: 'pi' })],
];
const ms = (ns) => (ns / MS).toFixed(ns < 10 * MS ? 3 : 1);
console.log(
  'model: 2 s virtual, sink 256 MiB/s, 2000 faults/s (Poisson), 5 us/fault, 1 us/scan page, 64-page steps; target p99 < 1 ms',
);
for (const [title, options] of scenarios) {
  console.log(`\n${title}`);
  console.log(
    '| policy | p50 ms | p99 ms | p99.9 ms | max ms | scan MiB/s | sink busy | drain-blocked ms |' +
      (title.startsWith('D') ? ' scan 1.1–2 s, % of sink |' : ''),
  );
  console.log(`|---|---|---|---|---|---|---|---|${title.startsWith('D') ? '---|' : ''}`);
  for (const [name, make] of policies) {
    const r = runLatencyModel(make(), { durationNs: 2e9, ...options });
    let extra = '';
    if (title.startsWith('D')) {
      const late = r.throughput.slice(110, 200).reduce((a, b) => a + b, 0);
      extra = ` ${((100 * late) / (256 * MiB * 0.9)).toFixed(0)} |`;
    }
    console.log(
      `| ${name} | ${ms(r.p50Ns)} | ${ms(r.p99Ns)} | ${ms(r.p999Ns)} | ${ms(r.maxNs)} | ${(r.scanBytesPerSecond / MiB).toFixed(0)} | ${(100 * r.sinkBusyFraction).toFixed(0)}% | ${(r.drainBlockedNs / MS).toFixed(0)} |${extra}`,
    );
  }
}
