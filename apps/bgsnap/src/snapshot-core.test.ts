import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareSnapshot, fileSink } from '@bgsnap/stream-writer';
import { describe, expect, it } from 'vitest';
import { SnapshotAbortedError } from './errors.js';
import { snapshotOnThisThread } from './snapshot-core.js';
import { FakeSource, type FakeWrite } from './testing/fake-source.js';
import { MemorySink } from './testing/memory-sink.js';
import { unlimitedPolicy } from './testing/policies.js';

const writes = (n: number, pages: number): FakeWrite[] =>
  Array.from({ length: n }, (_, i) => ({
    at: (i + 1) * 3_000,
    region: 0,
    page: (i * 37) % pages,
    value: i & 0xff,
  }));

const base = { backend: 'fake', output: 'memory', thread: 'current' as const };

describe('snapshotOnThisThread', () => {
  it('streams a point-in-time image that the reader verifies page by page', async () => {
    const source = new FakeSource([512], writes(200, 512), false, 1000, 4096);
    const sink = new MemorySink();
    const quiesceCalls: string[] = [];
    const report = await snapshotOnThisThread({
      ...base,
      source,
      sink,
      limiter: unlimitedPolicy(),
      // 512 pages would go in one quiet step before the first write: keep steps short so writes fault.
      quietBatchPages: 64,
      quiesce: {
        pause: () => void quiesceCalls.push('pause'),
        resume: () => void quiesceCalls.push('resume'),
      },
    });
    expect(quiesceCalls).toEqual(['pause', 'resume']);
    expect(sink.closed).toBe(true);
    expect(source.state).toBe('stopped');
    const cmp = await compareSnapshot(sink.bytes(), source.initial);
    expect(cmp.ok).toBe(true);
    expect(cmp.mismatchCount).toBe(0);
    expect(report.pages.faulted + report.pages.scanned).toBe(512);
    expect(report.pages.faulted).toBeGreaterThan(0);
    expect(report.latency.true?.count).toBe(report.pages.faulted + report.pages.faultsOnPendingRelease);
    expect(report.bytes.stream).toBe(sink.bytes().length);
    expect(JSON.parse(JSON.stringify(report)).pages.total).toBe(512);
  });

  it('without quiesce, faults are served while protection is still in progress', async () => {
    const source = new FakeSource([256], writes(50, 256), false, 1000, 4096);
    source.startDelayNs = 100_000; // the protect pass takes 100 µs; writes arrive every 3 µs
    const sink = new MemorySink();
    const report = await snapshotOnThisThread({ ...base, source, sink, limiter: unlimitedPolicy() });
    const during = source.events.filter((e) => e.kind === 'release' && e.at < source.startedAt);
    expect(during.length).toBeGreaterThan(0); // faulted pages released before start() resolved
    expect(Math.max(...source.writerWaits)).toBeLessThan(100_000);
    expect(report.protectNs).toBeGreaterThanOrEqual(100_000);
    const cmp = await compareSnapshot(sink.bytes(), source.initial);
    expect(cmp.ok).toBe(true);
  });

  it('a failing sink ends the snapshot with the sink error, writers released, sink aborted', async () => {
    const source = new FakeSource([2048], writes(100, 2048), false, 1000, 4096);
    const sink = new MemorySink(2);
    await expect(
      snapshotOnThisThread({ ...base, source, sink, limiter: unlimitedPolicy(), batchBytes: 64 * 1024 }),
    ).rejects.toThrow(/ENOSPC|disk on fire/);
    expect(source.state).toBe('stopped');
    expect(sink.aborted).toBe(true);
    expect(sink.closed).toBe(false);
  });

  it('abort mid-snapshot: SnapshotAbortedError, memory released, nothing under the final file name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bgsnap-abort-'));
    const path = join(dir, 'state.bgsnap');
    const source = new FakeSource([4096], writes(100, 4096), false, 1000, 4096);
    const controller = new AbortController();
    let progressEvents = 0;
    const promise = snapshotOnThisThread({
      ...base,
      source,
      sink: fileSink(path),
      limiter: unlimitedPolicy(),
      signal: controller.signal,
      progressIntervalNs: 1,
      onProgress: () => {
        if (++progressEvents === 5) controller.abort();
      },
    });
    await expect(promise).rejects.toThrow(SnapshotAbortedError);
    expect(source.state).toBe('stopped');
    expect(readdirSync(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});
