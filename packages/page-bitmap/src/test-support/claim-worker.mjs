// Worker for concurrency.test.ts. Workers load plain JavaScript, so this imports the BUILT package
// (run `pnpm --filter @bgsnap/page-bitmap build` first; turbo's test task does).
import { parentPort, workerData } from 'node:worker_threads';
import { AtomicPageBitmap } from '../../dist/index.js';

const { buffer, size, mode, start, end, go, seed, spread } = workerData;
const bm = AtomicPageBitmap.fromShared(buffer, size);
const out = [];
let rng = seed >>> 0 || 1;
const random = (n) => {
  rng ^= rng << 13;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  return (rng >>> 0) % n;
};

// Start together: every worker waits here until the test has seen all of them ready.
parentPort.postMessage({ ready: true });
Atomics.wait(go, 0, 0);

if (mode === 'claimRun') {
  // Claim small runs from a moving cursor, wrapping to `start` until nothing is left.
  let pos = spread ? start + random(end - start) : start;
  for (;;) {
    const run = bm.claimRun(pos, 1 + random(spread ? 64 : 8), end);
    if (run === null) {
      if (pos === start) break;
      pos = start;
      continue;
    }
    out.push(run[0], run[1]);
    pos = run[0] + run[1];
  }
} else if (mode === 'claimRange') {
  // Claim chunks, in random order when spread, else ascending (racing the others at the frontier).
  const chunk = spread ? 97 : 7;
  const chunks = [];
  for (let s = start; s < end; s += chunk) chunks.push(s);
  for (let i = chunks.length - 1; spread && i > 0; i--) {
    const j = random(i + 1);
    [chunks[i], chunks[j]] = [chunks[j], chunks[i]];
  }
  for (const s of chunks) {
    bm.claimRange(s, Math.min(end, s + chunk), (rs, rl) => {
      out.push(rs, rl);
    });
  }
} else if (mode === 'testAndSet') {
  if (spread) {
    for (let i = end - 1; i >= start; i--) if (!bm.testAndSet(i)) out.push(i, 1);
  } else {
    for (let i = start; i < end; i++) if (!bm.testAndSet(i)) out.push(i, 1);
  }
} else if (mode === 'testAndClear') {
  for (let i = start; i < end; i++) if (bm.testAndClear(i)) out.push(i, 1);
} else if (mode === 'clearRange') {
  for (let s = end; s > start; s -= 61) {
    const from = Math.max(start, s - 61);
    for (let i = from; i < s; i++) if (bm.testAndClear(i)) out.push(i, 1);
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}

const runs = Float64Array.from(out);
parentPort.postMessage({ runs }, [runs.buffer]);
