import { createSimFaultSource, createSimSink } from '@bgsnap/fault-source-sim';
import { createLatencyHistogram, recordLatency, snapshot } from 'bgsnap';
import type { BenchPolicy } from './policies.js';
import { type BenchResult, toRow } from './row.js';
import { cdfPoints, ThroughputRecorder } from './series.js';
import { profileKey, profileLabel, type StallProfile, toSimSinkOptions } from './stall-profile.js';

/** One simulator run of the matrix. */
export interface SimCase {
  mode: 'plain' | 'copy-on-fault';
  policy: BenchPolicy;
  profile: StallProfile;
  sizeBytes: number;
  /** Virtual CPUs writing uniformly at random. */
  writers: number;
  ratePerWriter: number;
  seed: number;
  /** Progress (throughput) sampling interval, virtual ns. */
  sampleNs: number;
  /** Pages per scan step; default: the save loop's own default. */
  batchPages?: number | undefined;
}

/**
 * Snapshots simulated memory in virtual time through {@link snapshot} with the case's limiter, into the
 * simulator's sink with the case's stall profile. Writer latency is the simulator's ground truth: each
 * blocked virtual CPU's wait from fault to resume.
 */
export async function runSimCase(c: SimCase): Promise<BenchResult> {
  const writerLatency = createLatencyHistogram();
  let longest = 0;
  let over5ms = 0;
  const sim = createSimFaultSource(
    {
      regions: [{ name: 'memory', pageCount: c.sizeBytes / 4096, pageSize: 4096 }],
      cpus: Array.from({ length: c.writers }, () => ({
        rate: c.ratePerWriter,
        workload: { kind: 'uniform' as const },
      })),
      mode: c.mode,
      seed: c.seed,
      recordFaults: false,
    },
    {
      onFaultResolved: (f) => {
        recordLatency(writerLatency, f.latencyNs);
        if (f.latencyNs > longest) longest = f.latencyNs;
        if (f.latencyNs > 5e6) over5ms++;
      },
    },
  );
  const sink = createSimSink(sim, toSimSinkOptions(c.profile));
  const throughput = new ThroughputRecorder();
  const report = await snapshot({
    source: sim,
    backendName: 'sim',
    to: sink,
    limiter: c.policy.spec,
    ...(c.batchPages === undefined ? {} : { batchPages: c.batchPages }),
    onProgress: throughput.onProgress,
    progressIntervalNs: c.sampleNs,
  });
  const id = `sim-${c.mode}-${profileKey(c.profile)}-${c.policy.name}`;
  const row = toRow(report, {
    id,
    backend: 'sim',
    policy: c.policy.name,
    spec: c.policy.spec,
    profile: profileLabel(c.profile),
    profileKey: profileKey(c.profile),
    sink: 'sim',
    writers: c.writers,
    ratePerWriter: c.ratePerWriter,
    writerLatency,
    longestWriterStallNs: longest,
    writesOver5ms: over5ms,
    injectedStallNs: sink.stats.stalledNs,
    extra: { simWrites: sim.stats.writes, simFaults: sim.stats.faults },
  });
  return { row, series: { id, cdf: cdfPoints(writerLatency), throughput: throughput.samples() } };
}
