import { WRITER_CONTROL } from 'bgsnap';

/** Control words shared (SharedArrayBuffer, Int32) between {@link BenchWriters} and its threads. */
export const BENCH_CTRL = {
  ...WRITER_CONTROL,
  /** Recording epoch: 0 = not recording; each new value starts a fresh "first write to a page" set. */
  epoch: 2,
} as const;

/**
 * A writer's first store to a page since recording began that is slower than this is a candidate write
 * fault; it counts as one when a fault event named the page (the benchmark records them). An
 * unprotected store plus two clock reads takes ~0.1-0.5 µs here; the fastest userfaultfd round trip is
 * several µs (anchors §2: 4.7 µs on a laptop, 17 µs p50 on these VMs). The page check drops slow first
 * stores that were not userfaultfd faults (a kernel minor fault on a page the scan already released,
 * the thread being descheduled), which are about as many again.
 */
export const FAULT_MIN_NS = 2_000;

/** workerData of one benchmark writer. */
export interface BenchWriterData {
  index: number;
  handle: unknown;
  pageCount: number;
  pageSize: number;
  /** Writes per second; 0 = as fast as possible. */
  rate: number;
  seed: number;
  control: SharedArrayBuffer;
}

/** What a benchmark writer reports when stopped; latencies in ns. */
export interface BenchWriterResult {
  index: number;
  writes: number;
  /** Writes made while recording. */
  recordedWrites: number;
  /** First writes to a page while recording. */
  firstWrites: number;
  /**
   * First writes slower than {@link FAULT_MIN_NS}, as (page, latency ns) pairs: the candidates for write
   * faults. The benchmark keeps those whose page a fault event named (see `recordingFaultSource`).
   */
  slowFirstWrites: Float64Array;
  /** Longest single write while recording (fault or not), and when it began (ms since the epoch). */
  maxWriteNs: number;
  maxWriteAtMs: number;
  /** Writes slower than 1 ms and 5 ms while recording. */
  over1ms: number;
  over5ms: number;
}
