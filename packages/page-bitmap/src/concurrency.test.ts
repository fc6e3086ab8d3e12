import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { AtomicPageBitmap } from './atomic-page-bitmap.js';

const WORKER = new URL('./test-support/claim-worker.mjs', import.meta.url);
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

interface Job {
  mode: 'claimRun' | 'claimRange' | 'testAndSet' | 'testAndClear' | 'clearRange';
  start: number;
  end: number;
  /** Start at random places (true) or all sweep upwards from `start`, colliding at the frontier. */
  spread?: boolean;
}

/** Runs one worker per job on the shared bitmap, all released at once; returns each one's runs. */
async function race(bm: AtomicPageBitmap, jobs: Job[], seed: number): Promise<Float64Array[]> {
  const go = new Int32Array(new SharedArrayBuffer(4));
  let ready = 0;
  const results = jobs.map(
    (job, i) =>
      new Promise<Float64Array>((resolve, reject) => {
        const w = new Worker(WORKER, {
          workerData: { buffer: bm.buffer, size: bm.size, go, seed: seed * 31 + i + 1, ...job },
        });
        w.on('message', (m: { ready?: boolean; runs?: Float64Array }) => {
          if (m.ready) {
            ready++;
            if (ready === jobs.length) {
              Atomics.store(go, 0, 1);
              Atomics.notify(go, 0);
            }
          } else if (m.runs) resolve(m.runs);
        });
        w.on('error', reject);
        w.on('exit', (code) => {
          if (code !== 0) reject(new Error(`worker ${i} (${job.mode}) exited with ${code}`));
        });
      }),
  );
  return Promise.all(results);
}

/** Per-bit tally of how many workers reported each bit. */
function tally(size: number, results: Float64Array[]): Uint8Array {
  const hits = new Uint8Array(size);
  for (const runs of results) {
    for (let r = 0; r < runs.length; r += 2) {
      const s = runs[r]!;
      const l = runs[r + 1]!;
      // Plain check: one expect() per run would dominate the test's run time.
      if (!(l > 0)) throw new Error(`empty run reported at ${s}`);
      for (let i = s; i < s + l; i++) hits[i]!++;
    }
  }
  return hits;
}

function expectEachOnce(hits: Uint8Array): void {
  let bad = -1;
  for (let i = 0; i < hits.length; i++) {
    if (hits[i] !== 1) {
      bad = i;
      break;
    }
  }
  expect(bad === -1 ? 'every bit exactly once' : `bit ${bad} reported ${hits[bad]} times`).toBe(
    'every bit exactly once',
  );
}

describe('AtomicPageBitmap under worker_threads', () => {
  if (!existsSync(DIST)) {
    it('needs the built package', () => {
      throw new Error(`${DIST} is missing: run \`pnpm --filter @bgsnap/page-bitmap build\` before the tests`);
    });
    return;
  }

  it('workers claiming the same range from the same end claim every bit exactly once', async () => {
    // Racing at the frontier is where a non-atomic read-modify-write loses updates; several rounds
    // because a lost update is a matter of timing.
    const size = 400_009;
    for (let round = 0; round < 4; round++) {
      const bm = new AtomicPageBitmap(size);
      const results = await race(
        bm,
        [
          { mode: 'claimRun', start: 0, end: size },
          { mode: 'claimRange', start: 0, end: size },
          { mode: 'testAndSet', start: 0, end: size },
        ],
        round,
      );
      expectEachOnce(tally(size, results));
      expect(bm.count()).toBe(size);
    }
  }, 30_000);

  it('workers claiming overlapping ranges claim every bit exactly once', async () => {
    const size = 1_000_003;
    for (let round = 0; round < 2; round++) {
      const bm = new AtomicPageBitmap(size);
      const results = await race(
        bm,
        [
          { mode: 'claimRun', start: 0, end: 700_000, spread: true },
          { mode: 'claimRange', start: 300_000, end: size, spread: true },
          { mode: 'testAndSet', start: 200_000, end: 800_000, spread: true },
        ],
        round,
      );
      expectEachOnce(tally(size, results));
      expect(bm.count()).toBe(size);
      expect(bm.nextClear(0)).toBe(-1);
    }
  }, 30_000);

  it('workers clearing overlapping ranges clear every bit exactly once', async () => {
    const size = 600_001;
    const bm = new AtomicPageBitmap(size).fill(true);
    const results = await race(
      bm,
      [
        { mode: 'testAndClear', start: 0, end: 400_000 },
        { mode: 'clearRange', start: 150_000, end: size },
      ],
      7,
    );
    expectEachOnce(tally(size, results));
    expect(bm.count()).toBe(0);
  }, 30_000);
});
