import { describe, expect, it } from 'vitest';
import type { ResolvedWorkload, SimConfig } from './config.js';
import { Prng } from './prng.js';
import { createSimFaultSource } from './sim-fault-source.js';
import { PageSampler } from './workload.js';

const costs = {
  faultDeliveryNs: 1000,
  pollWakeNs: 0,
  wakeNs: 500,
  copyPageNs: 10,
  releaseCallNs: 100,
  pollNs: 7,
};

function traced(trace: string, extra: Partial<SimConfig> = {}) {
  return createSimFaultSource({
    regions: [
      { name: 'a', pageCount: 64 },
      { name: 'b', pageCount: 64 },
    ],
    cpus: [
      { rate: 0, workload: 'trace' },
      { rate: 0, workload: 'trace' },
    ],
    trace,
    costs,
    ...extra,
  });
}

describe('virtual time and ground truth', () => {
  it('charges the configured costs to read, release and polls', async () => {
    const sim = traced('');
    await sim.start();
    const t0 = sim.clock.now();
    sim.read(0, 0, 5);
    expect(sim.clock.now() - t0).toBe(50);
    sim.release(0, 0, 5);
    expect(sim.clock.now() - t0).toBe(150);
    sim.takeFaults();
    expect(sim.clock.now() - t0).toBe(157);
    await sim.waitForFaults(0);
    expect(sim.clock.now() - t0).toBe(164);
    await sim.waitForFaults(12_345);
    expect(sim.clock.now() - t0).toBe(164 + 12_345);
    await sim.stop();
  });

  it('replays a trace: faults at the traced time and page; waitForFaults jumps to the first visible one', async () => {
    // Global page 70 is region 1 page 6.
    const sim = traced('5000 0 3\n6000 1 70\n');
    await sim.start();
    const first = await sim.waitForFaults(1e9);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ region: 0, page: 3, raisedAt: 5000, fetchedAt: 6000, threadId: 0 });
    expect(sim.clock.now()).toBe(6000);
    const second = await sim.waitForFaults(1e9);
    expect(second[0]).toMatchObject({ region: 1, page: 6, raisedAt: 6000, fetchedAt: 7000, threadId: 1 });
    // The writer of page 3 is still blocked; release resumes it after the wake cost.
    expect(sim.stats.blockedWriters).toBe(2);
    sim.release(0, 3, 1);
    sim.release(1, 6, 1);
    await sim.waitForFaults(10_000);
    const log = sim.faultLog();
    expect(Array.from(log.raisedAt)).toEqual([5000, 6000]);
    expect(Array.from(log.fetchedAt)).toEqual([6000, 7000]);
    expect(Array.from(log.resumedAt)).toEqual([7000 + 500, 7100 + 500]);
    expect(Array.from(sim.faultLatencies())).toEqual([2500, 1600]);
    expect(sim.stats).toMatchObject({
      faults: 2,
      faultsResolved: 2,
      cpuStallNs: 4100,
      maxFaultLatencyNs: 2500,
    });
    // Both writes landed after their release: the pages read as modified now, not at start.
    expect(sim.currentVersion(0, 3)).toBe(sim.startVersion(0, 3) + 1);
    await sim.stop();
  });

  it('a sleeping waitForFaults and an idle copy-on-fault handler pay pollWakeNs; a poll does not', async () => {
    const plain = traced('5000 0 3\n', { costs: { ...costs, faultDeliveryNs: 0, pollWakeNs: 30_000 } });
    await plain.start();
    const [f] = await plain.waitForFaults(1e9);
    expect(f).toMatchObject({ raisedAt: 5000, fetchedAt: 35_000 });
    const short = traced('5000 0 3\n', { costs: { ...costs, faultDeliveryNs: 0, pollWakeNs: 30_000 } });
    await short.start();
    expect(await short.waitForFaults(10_000)).toMatchObject([{ fetchedAt: 10_000 }]); // woken by the timeout
    const polled = traced('5000 0 3\n', { costs: { ...costs, faultDeliveryNs: 0, pollWakeNs: 30_000 } });
    await polled.start();
    while (polled.clock.now() < 5000) polled.read(0, 40, 1);
    const t = polled.clock.now();
    expect(polled.takeFaults()).toMatchObject([{ raisedAt: 5000, fetchedAt: t + costs.pollNs }]);
    const cof = traced('5000 0 3\n', {
      mode: 'copy-on-fault',
      copyOnFault: { copyNs: 300 },
      costs: { ...costs, faultDeliveryNs: 0, pollWakeNs: 30_000 },
    });
    await cof.start();
    const [e] = await cof.waitForFaults(1e9);
    expect(e).toMatchObject({ raisedAt: 5000, releasedAt: 35_300, fetchedAt: 65_300 });
    for (const s of [plain, short, polled, cof]) await s.stop();
  });

  it('a write to a released page does not fault; stop() resumes every blocked writer', async () => {
    const sim = traced('100 0 1\n200 0 2\n300 1 9\n');
    await sim.start();
    sim.release(0, 2, 1);
    await sim.waitForFaults(150); // t = 250: cpu 0 blocked on page 1
    expect(sim.stats.blockedWriters).toBe(1);
    await sim.waitForFaults(5000);
    expect(sim.stats.faults).toBe(2); // pages 1 and 9; page 2 was released
    await sim.stop();
    expect(sim.stats.blockedWriters).toBe(0);
    expect(sim.stats.faultsResolved).toBe(2);
  });

  it('copy-on-fault: a full buffer stalls the handler, so the faulting CPU waits for the save loop', async () => {
    const sim = traced('0 0 1\n0 1 2\n', {
      mode: 'copy-on-fault',
      copyOnFault: { bufferPages: 1, copyNs: 300 },
    });
    await sim.start();
    // Handler: page 1 copied at 1000..1300 (buffer now full); page 2 waits for a slot. The save loop
    // is busy elsewhere (reads advance time) and does not take the event.
    while (sim.clock.now() < 100_000) sim.read(1, 40, 10);
    const busyUntil = sim.clock.now();
    expect(sim.stats).toMatchObject({ handlerCopies: 1, blockedWriters: 1 });
    const first = sim.takeFaults(); // frees the slot at busyUntil + pollNs
    expect(first.map((e) => e.page)).toEqual([1]);
    const freedAt = busyUntil + costs.pollNs;
    const second = await sim.waitForFaults(1e6);
    expect(second.map((e) => [e.page, e.releasedAt])).toEqual([[2, freedAt + 300]]);
    await sim.waitForFaults(10_000);
    expect(Array.from(sim.faultLatencies())).toEqual([1800, freedAt + 300 + 500]);
    expect(sim.stats.handlerBufferFullNs).toBe(freedAt - 1300);
    await sim.stop();
  });

  it('copy-on-fault: events carry start contents and writers resume after the handler copy', async () => {
    const sim = traced('0 0 1\n0 1 2\n', {
      mode: 'copy-on-fault',
      copyOnFault: { bufferPages: 4, copyNs: 300 },
    });
    await sim.start();
    const got = [...(await sim.waitForFaults(1e6)), ...(await sim.waitForFaults(1e6))];
    expect(got.map((e) => [e.page, e.raisedAt, e.releasedAt])).toEqual([
      [1, 0, 1300],
      [2, 0, 1600],
    ]);
    expect(got.every((e) => e.contents?.length === 4096)).toBe(true);
    await sim.waitForFaults(10_000);
    expect(Array.from(sim.faultLatencies())).toEqual([1800, 2100]);
    expect(sim.claim(0, 0, 4)).toBe(1); // page 1 belongs to the fault path
    expect(sim.stats.claimRefusals).toBe(0);
    expect(sim.claim(0, 1, 1)).toBe(0);
    expect(sim.stats.claimRefusals).toBe(1);
    await sim.stop();
  });
});

describe('workload models', () => {
  async function pagesWritten(workload: NonNullable<SimConfig['cpus']>[number]['workload'], pages = 1 << 16) {
    const sim = createSimFaultSource({
      regions: [{ name: 'r', pageCount: pages }],
      cpus: [{ rate: 1e6, workload }],
    });
    await sim.start();
    const seen: number[] = [];
    // Never release: every write faults once and blocks; release to let the CPU go on.
    for (let i = 0; i < 2000; i++) {
      const [f] = await sim.waitForFaults(1e9, 1);
      if (!f) break;
      seen.push(f.page);
      sim.release(0, f.page, 1);
    }
    await sim.stop();
    return seen;
  }

  it('sequential sweeps pages in order with its stride', async () => {
    const seen = await pagesWritten({ kind: 'sequential', start: 10, stride: 3 });
    expect(seen.slice(0, 5)).toEqual([10, 13, 16, 19, 22]);
  });

  it('skewed workloads concentrate writes on fewer distinct pages', () => {
    const distinctShare = (workload: ResolvedWorkload) => {
      const sampler = new PageSampler(workload, 1 << 16);
      const rng = new Prng(5);
      const seen = new Set<number>();
      for (let i = 0; i < 20_000; i++) {
        const p = sampler.next(rng);
        expect(p >= 0 && p < 1 << 16 && Number.isInteger(p)).toBe(true);
        seen.add(p);
      }
      return seen.size / 20_000;
    };
    const uniform = distinctShare({ kind: 'uniform' });
    const hot = distinctShare({ kind: 'hot-set', hotFraction: 0.01, hotProbability: 0.95 });
    const zipf = distinctShare({ kind: 'zipf', skew: 1.2 });
    const steeper = distinctShare({ kind: 'zipf', skew: 2 });
    expect(uniform).toBeGreaterThan(0.8);
    expect(hot).toBeLessThan(uniform / 3);
    expect(zipf).toBeLessThan(uniform / 3);
    expect(steeper).toBeLessThan(zipf);
  });

  it('idle CPUs and rate 0 never write', async () => {
    const sim = createSimFaultSource({
      regions: [{ name: 'r', pageCount: 16 }],
      cpus: [{ rate: 5, workload: 'idle' }, { rate: 0 }],
    });
    await sim.start();
    await sim.waitForFaults(1e12);
    expect(sim.stats.writes).toBe(0);
    await sim.stop();
  });
});
