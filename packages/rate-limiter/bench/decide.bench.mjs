// Decision overhead per page: one save-loop step with the worst case of one scan page per step
// (decide + onScan), plus a fault every 64 steps and a sink write every 256, on a fake clock.
// Baselines measured in the same run: an empty function call, and the same loop around a no-op policy.
// Each policy runs in its own child process (one at a time), so call sites stay monomorphic as in the
// save loop, which drives a single policy; each child also re-measures the empty-call baseline.
// Run against dist/: `pnpm --filter @bgsnap/rate-limiter build && pnpm --filter @bgsnap/rate-limiter bench`.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { all, latencyTarget, threshold, tokenBucket, unlimited } from '../dist/index.js';

const STEPS = 500_000;
const ROUNDS = 25;
const TARGET_NS = 100;
const MiB = 2 ** 20;
const ctx = { startedAt: 0, pageSize: 4096, totalPages: 1 << 30, knowsFaultTime: true };

let sink = 0;

function noop(now, pending) {
  return now + pending;
}
function baselineCall() {
  let now = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < STEPS; i++) {
    sink += noop(now, 0);
    now += 1000;
  }
  return Number(process.hrtime.bigint() - t0) / STEPS;
}

const noopPolicy = () => ({
  name: 'no-op',
  start() {},
  onFault() {},
  onScan() {},
  onSinkWrite() {},
  decide: () => ({ scanPages: 1, waitNs: 0 }),
});

function loop(policy) {
  policy.start(ctx);
  let now = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < STEPS; i++) {
    const d = policy.decide(now, 0);
    now += d.waitNs;
    if (d.scanPages > 0) policy.onScan(now, 1, 4096);
    if ((i & 63) === 0) {
      // One slow fault in 64K steps keeps the threshold policy cycling through its throttle path.
      const slow = (i & 0xffff) === 0 ? 6e6 : 20_000;
      policy.onFault({ now, sinceFetchNs: slow, upperBoundNs: slow + 1000, trueNs: slow + 500 });
    }
    if ((i & 255) === 0) policy.onSinkWrite(now, 256 * 4096, 250_000);
    sink += d.scanPages;
    now += 1000;
  }
  return Number(process.hrtime.bigint() - t0) / STEPS;
}

const policies = [
  ['no-op policy (loop baseline)', noopPolicy],
  ['unlimited', () => unlimited()],
  ['threshold', () => threshold()],
  ['threshold (true measure)', () => threshold({ measure: 'true' })],
  ['token-bucket', () => tokenBucket({ bytesPerSecond: 400 * MiB, burstBytes: 4 * MiB })],
  ['latency-target aimd', () => latencyTarget()],
  ['latency-target codel', () => latencyTarget({ control: 'codel' })],
  ['latency-target pi', () => latencyTarget({ control: 'pi' })],
  [
    'all(threshold, token-bucket, latency-target)',
    () => all(threshold(), tokenBucket({ bytesPerSecond: 400 * MiB, burstBytes: 4 * MiB }), latencyTarget()),
  ],
];

const best = (f) => {
  let b = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) b = Math.min(b, f());
  return b;
};

const one = process.argv.indexOf('--one');
if (one >= 0) {
  const [name, make] = policies[Number(process.argv[one + 1])];
  const base = best(baselineCall);
  const ns = best(() => loop(make()));
  process.stdout.write(JSON.stringify({ name, base, ns, sink }));
} else {
  console.log(
    `node ${process.version}, ${STEPS} steps per round, best of ${ROUNDS} rounds, one child process per policy`,
  );
  const results = policies.map((_, i) =>
    JSON.parse(
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--one', String(i)], {
        encoding: 'utf8',
      }),
    ),
  );
  const base = Math.min(...results.map((r) => r.base));
  const loopBase = results[0].ns;
  console.log(`${'empty function call (baseline)'.padEnd(48)} ${base.toFixed(1).padStart(7)} ns/op`);
  let worst = 0;
  for (const r of results) {
    const isBase = r.name.startsWith('no-op');
    if (!isBase) worst = Math.max(worst, r.ns);
    console.log(
      `${r.name.padEnd(48)} ${r.ns.toFixed(1).padStart(7)} ns/page  ${(r.ns / r.base).toFixed(1).padStart(6)}x empty call` +
        (isBase ? '' : `  +${Math.max(0, r.ns - loopBase).toFixed(1)} ns over the no-op policy`),
    );
  }
  console.log(
    `worst policy: ${worst.toFixed(1)} ns/page (decide + onScan per one-page step, amortised faults and sink writes)`,
  );
  console.log(`target < ${TARGET_NS} ns per page: ${worst < TARGET_NS ? 'MET' : 'MISSED'}`);
}
