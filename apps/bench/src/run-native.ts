import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TrackedMemory, UffdFaultSource } from '@bgsnap/fault-source-uffd';
import { discardSink, fileSink } from '@bgsnap/stream-writer';
import { createLatencyHistogram, fillMemory, snapshot } from 'bgsnap';
import { BenchWriters, type BenchWritersResult } from './bench-writers.js';
import type { NativeMode } from './modes.js';
import type { BenchPolicy } from './policies.js';
import { recordingFaultSource } from './recording-source.js';
import { type BenchResult, toRow } from './row.js';
import { cdfPoints, ThroughputRecorder } from './series.js';
import { profileKey, profileLabel, type StallProfile } from './stall-profile.js';
import { stallingSink } from './stalling-sink.js';

/** One native (userfaultfd) run. */
export interface NativeCase {
  mode: NativeMode;
  policy: BenchPolicy;
  profile: StallProfile;
  sizeBytes: number;
  /** Writer threads (0 = none). */
  writers: number;
  ratePerWriter: number;
  seed: number;
  /** The real sink under the stall schedule. */
  sink: 'file' | 'discard';
  /** Folder for the file sink's output (deleted after the run). */
  outDir: string;
  /** Park the writers around write-protection (strict point in time), as `bgsnap run` does. */
  quiesce: boolean;
  /** Progress (throughput) sampling interval, ns. */
  sampleNs: number;
  /** Pages per scan step; default: the save loop's own default. */
  batchPages?: number | undefined;
  /** In-thread mode: pages of the copy buffer (the backend's `copyBufferPages`); default the backend's. */
  copyBufferPages?: number | undefined;
  /** Row id suffix, to tell apart several runs of the same case. */
  tag?: string;
  /**
   * Snapshot this memory instead of fresh memory: it is neither filled nor released here. Repeated
   * snapshots of one region are what a long-lived application sees; fresh memory pays the host's
   * first-protection cost on every run (see BENCHMARKS.md, target (a)).
   */
  memory?: TrackedMemory | undefined;
}

/**
 * Snapshots ~1 GiB of native tracked memory through {@link snapshot} (save loop on this thread, which
 * never writes the memory) while writer threads store into it and time their own stores, into a real
 * sink wrapped by {@link stallingSink}. Fresh memory per run, filled with the `bgsnap run` contents,
 * unless `c.memory` is given.
 */
export async function runNativeCase(c: NativeCase): Promise<BenchResult> {
  const uffd = await import('@bgsnap/fault-source-uffd');
  const memory: TrackedMemory = c.memory ?? uffd.TrackedMemory.allocate(c.sizeBytes);
  const id = `uffd-${c.mode}-${profileKey(c.profile)}-${c.policy.name}${c.writers === 0 ? '-nowriters' : ''}${c.quiesce ? '' : '-noquiesce'}${c.tag ? `-${c.tag}` : ''}`;
  const path = join(c.outDir, `${id}.bgsnap`);
  let writers: BenchWriters | undefined;
  try {
    if (!c.memory) fillMemory(memory, c.seed);
    if (c.writers > 0) {
      writers = BenchWriters.start({
        handle: memory.handle,
        writers: c.writers,
        rate: c.ratePerWriter,
        seed: c.seed,
      });
      await writers.running();
      await new Promise((r) => setTimeout(r, 50));
    }
    const uffdSource: UffdFaultSource = new uffd.UffdFaultSource({
      regions: [{ name: 'memory', memory }],
      mode: c.mode,
      ...(c.mode === 'in-thread' && c.copyBufferPages !== undefined
        ? { copyBufferPages: c.copyBufferPages }
        : {}),
    });
    const source = recordingFaultSource(uffdSource);
    const inner = c.sink === 'file' ? fileSink(path) : discardSink();
    const sink = stallingSink(inner, c.profile);
    const throughput = new ThroughputRecorder();
    let pausedAt = 0;
    let quiescePauseNs: number | undefined;
    const w = writers;
    let phase = 'starting';
    let lastProgress: unknown;
    const debugLine = (): void => {
      process.stderr.write(
        `debug ${id}: phase ${phase}, source ${source.state}, writes ${w?.writes ?? 0}, sink ${JSON.stringify(sink.stats)}, progress ${JSON.stringify(lastProgress)}, resources ${process.getActiveResourcesInfo().join(',')}\n`,
      );
    };
    // BGSNAP_BENCH_DEBUG=1: say where a run stood if the event loop ever drains with the run unfinished.
    if (process.env.BGSNAP_BENCH_DEBUG) process.once('beforeExit', debugLine);
    if (w && !c.quiesce) w.record(true);
    const report = await snapshot({
      source,
      backendName: 'uffd',
      to: sink,
      limiter: c.policy.spec,
      ...(c.batchPages === undefined ? {} : { batchPages: c.batchPages }),
      onProgress: (p) => {
        lastProgress = p;
        phase = 'saving';
        throughput.onProgress(p);
      },
      progressIntervalNs: c.sampleNs,
      quiesce:
        w && c.quiesce
          ? {
              pause: async () => {
                pausedAt = performance.now();
                phase = 'pausing';
                await w.pause();
                phase = 'protecting';
                // Every store from here on is to a protected page or a released one: count first writes afresh.
                w.record(true);
              },
              resume: () => {
                phase = 'resumed';
                w.resume();
                quiescePauseNs = (performance.now() - pausedAt) * 1e6;
              },
            }
          : undefined,
    });
    phase = 'done';
    process.off('beforeExit', debugLine);
    w?.record(false);
    const stats = uffdSource.stats();
    let result: BenchWritersResult | undefined;
    if (w) {
      result = await w.stop(source.faulted[0]);
      writers = undefined;
    }
    const writerLatency = result?.faultLatency ?? createLatencyHistogram();
    const row = toRow(report, {
      id,
      backend: 'uffd',
      policy: c.policy.name,
      spec: c.policy.spec,
      profile: profileLabel(c.profile),
      profileKey: profileKey(c.profile),
      sink: c.sink,
      writers: c.writers,
      ratePerWriter: c.ratePerWriter,
      writerLatency,
      longestWriterStallNs: result?.maxWriteNs ?? 0,
      writesOver5ms: result?.over5ms ?? 0,
      injectedStallNs: sink.stats.stalledNs,
      quiescePauseNs,
      extra: {
        writerFaults: result?.faults ?? 0,
        writerOtherSlowFirstWrites: result?.otherSlowFirstWrites ?? 0,
        writerFirstWrites: result?.firstWrites ?? 0,
        writerRecordedWrites: result?.recordedWrites ?? 0,
        writesOver1ms: result?.over1ms ?? 0,
        faultEvents: stats.faults,
        protectChunks: stats.protectChunks,
        maxProtectChunkNs: stats.maxProtectChunkNs,
        preserved: stats.preserved,
        copied: stats.copied,
        claimedByScan: stats.claimedByScan,
        slotWaits: stats.slotWaits,
        copyBufferPages: c.mode === 'in-thread' ? (c.copyBufferPages ?? 'default') : '–',
        hugePages: memory.hugePages,
        tag: c.tag ?? '',
        batchPages: c.batchPages ?? 'default',
      },
    });
    // The save loop reports in-thread runs as copy-on-fault (both carry contents): keep the mode asked for.
    row.mode = c.mode;
    return { row, series: { id, cdf: cdfPoints(writerLatency), throughput: throughput.samples() } };
  } finally {
    if (writers) await writers.kill().catch(() => {});
    if (!c.memory) memory.release();
    rmSync(path, { force: true });
  }
}
