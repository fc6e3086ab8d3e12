import { describe, expect, it } from 'vitest';
import { SimConfigError } from './config.js';
import { createSimFaultSource } from './sim-fault-source.js';
import { createSimSink, parseSinkProfile, SimSinkError } from './sink.js';

const chunk = (bytes: number) => new Uint8Array(bytes);

function sim(cpus = 0) {
  return createSimFaultSource({
    regions: [{ name: 'r', pageCount: 1024 }],
    cpus: Array.from({ length: cpus }, () => ({ rate: 1e5 })),
  });
}

describe('simulated sink', () => {
  it('a write takes latency + bytes / bandwidth of virtual time; awaiting it advances the clock', async () => {
    const s = sim();
    const sink = createSimSink(s, { bandwidth: 1e9, writeLatencyNs: 1000 });
    await sink.write(chunk(1_000_000));
    expect(s.clock.now()).toBe(1_001_000);
    // Writes queue behind each other.
    const a = sink.write(chunk(500_000));
    const b = sink.write(chunk(500_000));
    await Promise.all([a, b]);
    expect(s.clock.now()).toBe(1_001_000 + 2 * 501_000);
    expect(sink.stats).toMatchObject({ writes: 3, bytes: 2_000_000, stalledNs: 0 });
  });

  it('periodic stalls: no progress during the last stallNs of every period', async () => {
    const s = sim();
    const sink = createSimSink(s, {
      bandwidth: 1e9,
      writeLatencyNs: 0,
      stall: { kind: 'periodic', stallNs: 50e6, everyNs: 250e6 },
    });
    // 300 ms of work from t=0: 200 ms, stall 200–250, then 100 ms more → done at 350 ms.
    await sink.write(chunk(300e6));
    expect(s.clock.now()).toBe(350e6);
    expect(sink.stats.stalledNs).toBe(50e6);
    // A write submitted inside a stall waits for its end.
    await s.start();
    while (s.clock.now() < 460e6) await s.waitForFaults(10e6);
    const t = s.clock.now();
    await sink.write(chunk(1e6));
    expect(s.clock.now()).toBe(Math.max(t, 500e6) + 1e6);
    await s.stop();
  });

  it('random stalls are reproducible from the seed and differ between seeds', async () => {
    const run = async (seed: number) => {
      const s = sim();
      const sink = createSimSink(s, {
        stall: { kind: 'random', meanIntervalNs: 10e6, meanStallNs: 2e6, seed },
      });
      for (let i = 0; i < 50; i++) await sink.write(chunk(1 << 20));
      return [s.clock.now(), sink.stats.stalledNs];
    };
    expect(await run(1)).toEqual(await run(1));
    expect(await run(1)).not.toEqual(await run(2));
    const [, stalled] = await run(3);
    expect(stalled).toBeGreaterThan(0);
  });

  it('virtual time jumps to a sink completion only while the save loop is idle, not when it merely yields', async () => {
    const s = createSimFaultSource({ regions: [{ name: 'r', pageCount: 1024 }], costs: { copyPageNs: 100 } });
    await s.start();
    const sink = createSimSink(s, { bandwidth: 1e9, writeLatencyNs: 0 });
    let done = false;
    const write = sink.write(chunk(10e6)).then(() => {
      done = true;
    }); // completes at 10 ms
    for (let i = 0; i < 50; i++) {
      s.read(0, 0, 1); // 100 ns of save-loop work
      await new Promise((resolve) => setImmediate(resolve)); // yields to the event loop, still busy
    }
    expect(s.clock.now()).toBe(5000);
    expect(done).toBe(false);
    await write; // now the loop is idle: time jumps to the completion
    expect(s.clock.now()).toBe(10e6);
    await s.stop();
  });

  it('CPUs keep running while the save loop waits for the sink', async () => {
    const s = sim(2);
    await s.start();
    s.release(0, 0, 1024);
    const sink = createSimSink(s, { bandwidth: 1e8 });
    await sink.write(chunk(1e6)); // 10 ms
    expect(s.stats.writes).toBeGreaterThan(1000);
    await s.stop();
  });

  it('injected failures reject, writes after close/abort reject, close waits for queued writes', async () => {
    const s = sim();
    const sink = createSimSink(s, { failAfterBytes: 1500, bandwidth: 1e9, writeLatencyNs: 0 });
    await sink.write(chunk(1000));
    await expect(sink.write(chunk(1000))).rejects.toBeInstanceOf(SimSinkError);
    const ok = createSimSink(s, { bandwidth: 1e9, writeLatencyNs: 0 });
    void ok.write(chunk(1e6));
    const t = s.clock.now();
    await ok.close();
    expect(s.clock.now()).toBe(t + 1e6);
    await expect(ok.write(chunk(1))).rejects.toThrow(/after close/);
    await ok.abort();
    await ok.abort();
    await expect(ok.write(chunk(1))).rejects.toThrow(/after abort/);
  });

  it('rejects bad options listing every problem', () => {
    try {
      createSimSink(sim(), {
        bandwidth: 0,
        writeLatencyNs: -1,
        stall: { kind: 'periodic', stallNs: 5, everyNs: 5 },
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SimConfigError);
      expect((e as SimConfigError).problems).toHaveLength(3);
    }
  });
});

describe('parseSinkProfile', () => {
  it('parses every key and unit', () => {
    expect(parseSinkProfile('none')).toEqual({});
    expect(parseSinkProfile('bandwidth=500MB/s,latency=20us,stall=50ms/250ms,fail-after=1GiB')).toEqual({
      bandwidth: 500e6,
      writeLatencyNs: 20_000,
      stall: { kind: 'periodic', stallNs: 50e6, everyNs: 250e6 },
      failAfterBytes: 1024 ** 3,
    });
    expect(parseSinkProfile('stall=random:20ms/1s:7')).toEqual({
      stall: { kind: 'random', meanStallNs: 20e6, meanIntervalNs: 1e9, seed: 7 },
    });
  });

  it('lists every problem in one error', () => {
    try {
      parseSinkProfile('bandwidth=fast,latency=3 parsecs,stall=1/2/3,colour=blue');
      expect.unreachable();
    } catch (e) {
      expect((e as SimConfigError).problems).toEqual([
        expect.stringMatching(/^bandwidth/),
        expect.stringMatching(/^latency/),
        expect.stringMatching(/^stall/),
        expect.stringMatching(/^unknown sink profile key 'colour'/),
      ]);
    }
  });
});
