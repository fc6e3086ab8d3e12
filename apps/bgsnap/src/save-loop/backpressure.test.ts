import { describe, expect, it } from 'vitest';
import { SnapshotAbortedError } from '../errors.js';
import { faultOn, recordingParts } from '../testing/recording-source.js';
import { createAbortRace } from './abort-race.js';
import { Backpressure, DRAIN_FAULT_WAIT_NS } from './backpressure.js';
import { FaultService } from './fault-service.js';
import { ReleaseBlocks } from './release-blocks.js';

/** A writer whose drain settles when the test says so; `buffered` is what stats report. */
function gatedWriter() {
  let open: (() => void) | undefined;
  let fail: ((e: unknown) => void) | undefined;
  const writer = {
    buffered: 0,
    writePages(_r: number, _f: number, data: Uint8Array) {
      writer.buffered += data.length;
    },
    needsDrain: true,
    drain: () =>
      new Promise<void>((resolve, reject) => {
        open = resolve;
        fail = reject;
      }),
    get stats() {
      return { bytesEncoded: 0, bufferedBytes: writer.buffered };
    },
    open: () => open?.(),
    fail: (e: unknown) => fail?.(e),
  };
  return writer;
}

function setup(serveFaultsWhileDraining: boolean, cap = 1 << 20, signal?: AbortSignal) {
  const writer = gatedWriter();
  const parts = recordingParts([64], writer);
  const { source, counters } = parts;
  const faults = new FaultService(parts, new ReleaseBlocks(source, counters, [1], [64]));
  const backpressure = new Backpressure(source, writer, counters, faults, createAbortRace(signal), signal, {
    serveFaultsWhileDraining,
    maxBufferedWhileDrainingBytes: cap,
  });
  return { source, writer, counters, backpressure };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Backpressure', () => {
  it('by default serves no fault until the drain settles, and counts the stall', async () => {
    const s = setup(false);
    s.source.faults.push([faultOn(0, 1)]);
    const done = s.backpressure.drain();
    await tick();
    s.source.tick(7000);
    expect(s.source.calls).toEqual([]);
    s.writer.open();
    await done;
    expect(s.counters.drainStalledNs).toBe(7000);
  });

  it('with serveFaultsWhileDraining, serves faults in 1 ms waits while the sink is stuck', async () => {
    const s = setup(true);
    s.source.faults.push([faultOn(0, 1)], [faultOn(0, 2)]);
    const done = s.backpressure.drain();
    for (let i = 0; i < 5; i++) await tick();
    expect(s.counters.pagesFaulted).toBe(2);
    expect(s.source.calls).toContain(`wait ${DRAIN_FAULT_WAIT_NS}`);
    s.writer.open();
    await done;
  });

  it('stops serving faults once the buffer reaches its cap, and still waits for the drain', async () => {
    const s = setup(true, 64);
    s.source.faults.push([faultOn(0, 1)], [faultOn(0, 2)]);
    const done = s.backpressure.drain();
    for (let i = 0; i < 5; i++) await tick();
    expect(s.counters.pagesFaulted).toBe(1);
    s.writer.open();
    await done;
  });

  it("rejects with the sink's error, or with SnapshotAbortedError on abort", async () => {
    const s = setup(true);
    const done = s.backpressure.drain();
    s.writer.fail(new Error('disk gone'));
    await expect(done).rejects.toThrow('disk gone');
    const controller = new AbortController();
    const a = setup(false, 1, controller.signal);
    const aborted = a.backpressure.drain();
    controller.abort('stop');
    await expect(aborted).rejects.toBeInstanceOf(SnapshotAbortedError);
  });
});
