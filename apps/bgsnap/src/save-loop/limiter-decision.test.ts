import type { LimiterDecision } from '@bgsnap/rate-limiter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeSource, ImageWriter } from '../testing/fake-source.js';
import { scriptedPolicy } from '../testing/policies.js';
import { IllegalDecisionError, MAX_WAIT_SLICE_NS } from './limiter-decision.js';
import { runSaveLoop } from './save-loop.js';

/** Runs the loop over 64 idle pages with `decisions`; gives up (aborts) after `budgetMs` of wall time. */
async function runWith(decisions: LimiterDecision[], budgetMs = 2000) {
  const source = new FakeSource([64], []);
  await source.start();
  const writer = new ImageWriter(source.regions);
  return runSaveLoop({
    source,
    limiter: scriptedPolicy(decisions),
    writer,
    signal: AbortSignal.timeout(budgetMs),
    startedAt: 0,
  });
}

describe('limiter decisions at run time', () => {
  it('refuses a fractional scanPages that would spin without scanning, naming policy and decision', async () => {
    const error = await runWith([{ scanPages: 0.5, waitNs: 0 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IllegalDecisionError);
    expect((error as IllegalDecisionError).policy).toBe('test-scripted');
    expect((error as IllegalDecisionError).decision).toEqual({ scanPages: 0.5, waitNs: 0 });
    expect((error as Error).message).toMatch(/'test-scripted'.*scanPages: 0\.5/);
  });

  it('refuses any decision value that is not a non-negative integer', async () => {
    const bad = fc.oneof(
      fc.double({ noInteger: true }),
      fc.integer({ max: -1 }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    );
    const good = fc.integer({ min: 1, max: 1000 });
    await fc.assert(
      fc.asyncProperty(bad, good, fc.boolean(), async (b, g, badScan) => {
        const d = badScan ? { scanPages: b, waitNs: g } : { scanPages: g, waitNs: b };
        await expect(runWith([d])).rejects.toBeInstanceOf(IllegalDecisionError);
      }),
      { numRuns: 60 },
    );
  });

  it('follows a legal decision sequence to the end', async () => {
    const result = await runWith([
      { scanPages: 0, waitNs: 1000 },
      { scanPages: 7, waitNs: 0 },
    ]);
    expect(result.pagesScanned).toBe(64);
  });
});

describe('long limiter waits', () => {
  it('are split into waits no Node timer overflows, adding up to what the policy asked', async () => {
    const source = new FakeSource([16], []);
    await source.start();
    const asked: number[] = [];
    const wait = source.waitForFaults.bind(source);
    source.waitForFaults = (timeoutNs: number, max?: number) => {
      asked.push(timeoutNs);
      return wait(timeoutNs, max);
    };
    const longWait = 2 * MAX_WAIT_SLICE_NS + 12_345;
    let n = 0;
    const limiter = scriptedPolicy([]);
    limiter.decide = () => (n++ === 0 ? { scanPages: 0, waitNs: longWait } : { scanPages: 16, waitNs: 0 });
    const result = await runSaveLoop({
      source,
      limiter,
      writer: new ImageWriter(source.regions),
      startedAt: 0,
    });
    expect(asked.every((t) => t <= MAX_WAIT_SLICE_NS)).toBe(true);
    expect(asked.reduce((a, b) => a + b, 0)).toBe(longWait);
    expect(result.throttledNs).toBe(longWait);
    expect(MAX_WAIT_SLICE_NS / 1e6).toBe(2 ** 31 - 1);
  });
});
