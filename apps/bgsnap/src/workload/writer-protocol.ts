import { WRITER_CONTROL } from './paced-writes.js';

/** Access patterns of the demo writers. */
export type WritePattern = 'uniform' | 'hot' | 'sequential';

/** The patterns `--pattern` accepts. */
export const WRITE_PATTERNS: readonly WritePattern[] = ['uniform', 'hot', 'sequential'];

/** Control words shared (SharedArrayBuffer) between the pool and its writers (see `WRITER_CONTROL`). */
export const CTRL = {
  ...WRITER_CONTROL,
  /** 1 while writes are timed into the histogram. */
  recording: 2,
} as const;

/** workerData of one demo writer. */
export interface WriterWorkerData {
  index: number;
  handle: unknown;
  byteLength: number;
  pageSize: number;
  /** Writes per second; 0 = as fast as possible. */
  rate: number;
  pattern: WritePattern;
  seed: number;
  control: SharedArrayBuffer;
  /**
   * One byte per page, shared by all writers: a writer that sets a page's byte first (while recording)
   * made the first store to that page since protection, the one that faults if the page is still
   * protected, and reports it as a candidate.
   */
  firstStores: SharedArrayBuffer;
}

/** What a writer reports when stopped. */
export interface WriterResult {
  index: number;
  writes: number;
  /** HdrHistogram (compressed base64) of timed write latencies, ns. */
  histogram: string;
  /** First stores to a page while recording, as (page, latency ns) pairs: see `matchWriterFaults`. */
  firstStores: Float64Array;
}
