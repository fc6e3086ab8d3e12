/** Access patterns of the demo writers. */
export type WritePattern = 'uniform' | 'hot' | 'sequential';

/** The patterns `--pattern` accepts. */
export const WRITE_PATTERNS: readonly WritePattern[] = ['uniform', 'hot', 'sequential'];

/** Control words shared (SharedArrayBuffer) between the pool and its writers. */
export const CTRL = {
  /** 0 run, 1 pause, 2 stop. */
  command: 0,
  /** Writers currently parked in a pause. */
  parked: 1,
  /** 1 while writes are timed into the histogram. */
  recording: 2,
  /** Words 3.. : per-writer write counts (wrapping). */
  counts: 3,
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
}

/** What a writer reports when stopped. */
export interface WriterResult {
  index: number;
  writes: number;
  /** HdrHistogram (compressed base64) of timed write latencies, ns. */
  histogram: string;
}
