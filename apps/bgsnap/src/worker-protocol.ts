import type { TrackedMemoryHandle, UffdMode } from '@bgsnap/fault-source-uffd';
import type { LimiterSpec } from './limiter-spec.js';
import type { SnapshotReport } from './report/report.js';
import type { SnapshotProgress } from './save-loop/types.js';
import type { SinkSpec } from './sink-spec.js';
import type { SnapshotTuning } from './snapshot-core.js';

/** workerData of the snapshot worker: plain data only, so it survives structured cloning. */
export interface SnapshotWorkerData {
  regions: { name: string; handle: TrackedMemoryHandle }[];
  mode: UffdMode;
  protectChunkBytes: number | undefined;
  sink: SinkSpec;
  limiter: LimiterSpec;
  cwd: string;
  output: string;
  tuning: SnapshotTuning;
  quiesce: boolean;
  /** Deadline of the quiesce pause, ms (undefined: the default). */
  quiesceTimeoutMs: number | undefined;
  progress: boolean;
  /** Whether the main thread has a `beforeCommit` step: the worker then asks before closing the sink. */
  commitHook: boolean;
  /** Shared per-region maps the worker marks with the page of every fault event (`recordFaultedPages`). */
  faultedPages: Uint8Array[] | undefined;
}

/** An error flattened for postMessage; the main thread rebuilds the right class from `name`. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string | undefined;
  option?: string | undefined;
  code?: string | undefined;
  /** A sink error's operation, and a stall's peer and deadline (`SinkStalledError`), to rebuild it. */
  sink?: { operation: string; peer?: string | undefined; timeoutMs?: number | undefined } | undefined;
}

/** Worker → main. */
export type WorkerToMain =
  | { type: 'progress'; progress: SnapshotProgress }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'commit-request' }
  | { type: 'done'; report: SnapshotReport }
  | { type: 'error'; error: SerializedError; aborted: boolean };

/** Main → worker. */
export type MainToWorker =
  | { type: 'paused' }
  | { type: 'pause-failed'; message: string }
  | { type: 'commit-ok' }
  | { type: 'commit-failed'; message: string }
  | { type: 'abort'; reason: string };

/** Flattens any thrown value. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const e = error as Error & {
      option?: unknown;
      code?: unknown;
      operation?: unknown;
      peer?: unknown;
      timeoutMs?: unknown;
    };
    const sink =
      typeof e.operation === 'string'
        ? {
            operation: e.operation,
            peer: typeof e.peer === 'string' ? e.peer : undefined,
            timeoutMs: typeof e.timeoutMs === 'number' ? e.timeoutMs : undefined,
          }
        : undefined;
    return {
      sink,
      name: e.name,
      message: e.message,
      stack: e.stack,
      option: typeof e.option === 'string' ? e.option : undefined,
      code: typeof e.code === 'string' ? e.code : undefined,
    };
  }
  return { name: 'Error', message: String(error) };
}
