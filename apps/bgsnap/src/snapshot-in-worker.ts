import { Worker } from 'node:worker_threads';
import { SinkStalledError } from '@bgsnap/stream-writer';
import { BadInputError, QuiesceTimeoutError, SnapshotAbortedError } from './errors.js';
import type { SnapshotReport } from './report/report.js';
import type { SnapshotProgress } from './save-loop/types.js';
import type { Quiesce } from './snapshot-core.js';
import type { MainToWorker, SerializedError, SnapshotWorkerData, WorkerToMain } from './worker-protocol.js';

/** The worker script, next to this module in the built package (tsup emits every entry into dist/). */
const WORKER_URL = new URL('./snapshot-worker.js', import.meta.url);

/** What {@link runSnapshotInWorker} needs: the worker's data plus the live callbacks that stay here. */
export interface InWorkerOptions
  extends Omit<SnapshotWorkerData, 'quiesce' | 'progress' | 'commitHook' | 'quiesceTimeoutMs'> {
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: SnapshotProgress) => void) | undefined;
  quiesce?: Quiesce | undefined;
  quiesceTimeoutMs?: number | undefined;
  /** Runs here when the worker is about to commit the output; throwing discards it. */
  beforeCommit?: (() => void | Promise<void>) | undefined;
}

function rebuildError(e: SerializedError, aborted: boolean): Error {
  if (aborted || e.name === 'SnapshotAbortedError') {
    const error = new SnapshotAbortedError(e.message.replace(/^snapshot aborted: ?/, ''));
    error.message = e.message;
    return error;
  }
  const error: Error =
    e.name === 'BadInputError' && e.option
      ? new BadInputError(e.option, '')
      : e.name === 'QuiesceTimeoutError'
        ? new QuiesceTimeoutError(Number(/within (\d+) ms/.exec(e.message)?.[1] ?? 0))
        : e.name === 'SinkStalledError' && e.sink?.peer !== undefined && e.sink.timeoutMs !== undefined
          ? new SinkStalledError(
              e.sink.peer,
              e.sink.timeoutMs,
              e.sink.operation as 'open' | 'write' | 'close',
            )
          : new Error(e.message);
  error.name = e.name;
  error.message = e.message;
  if (e.stack) error.stack = e.stack;
  if (e.code) (error as Error & { code?: string }).code = e.code;
  return error;
}

/**
 * Runs one snapshot on a worker thread: the worker attaches to the tracked memory by handle, opens the
 * sink and builds the limiter from their specs, and runs the save loop; this thread relays quiesce
 * requests, progress and cancellation. The worker never writes tracked memory, so every other thread
 * (this one included) may write while it runs.
 */
export function runSnapshotInWorker(options: InWorkerOptions): Promise<SnapshotReport> {
  const { signal, onProgress, quiesce, beforeCommit, quiesceTimeoutMs, ...rest } = options;
  if (signal?.aborted) return Promise.reject(new SnapshotAbortedError(signal.reason));
  const workerData: SnapshotWorkerData = {
    ...rest,
    quiesce: quiesce !== undefined,
    quiesceTimeoutMs,
    progress: onProgress !== undefined,
    commitHook: beforeCommit !== undefined,
  };
  const worker = new Worker(WORKER_URL, { workerData });
  return new Promise<SnapshotReport>((resolve, reject) => {
    let settled = false;
    // An error of a callback of the caller's (onProgress, beforeCommit): the worker is told to abort,
    // and the snapshot rejects with this error rather than crashing the host process.
    let callbackError: { error: unknown } | undefined;
    const send = (m: MainToWorker): void => {
      if (!settled) worker.postMessage(m);
    };
    const abortWorker = (reason: unknown): void =>
      send({ type: 'abort', reason: reason instanceof Error ? reason.message : String(reason ?? 'aborted') });
    const onAbort = (): void => abortWorker(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
      // Everything (memory references, sink) was released in the worker before it reported.
      void worker.terminate();
    };
    worker.on('message', (m: WorkerToMain) => {
      switch (m.type) {
        case 'progress':
          if (callbackError) break;
          try {
            onProgress?.(m.progress);
          } catch (error) {
            callbackError = { error };
            abortWorker(error);
          }
          break;
        case 'pause':
          Promise.resolve()
            .then(() => quiesce?.pause())
            .then(
              () => {
                // The worker gave up on this pause (abort, deadline) and is gone: resume it here.
                if (settled)
                  void Promise.resolve()
                    .then(() => quiesce?.resume())
                    .catch(() => {});
                else send({ type: 'paused' });
              },
              (e: unknown) =>
                send({ type: 'pause-failed', message: e instanceof Error ? e.message : String(e) }),
            );
          break;
        case 'commit-request':
          Promise.resolve()
            .then(() => beforeCommit?.())
            .then(
              () => send({ type: 'commit-ok' }),
              (error: unknown) => {
                callbackError ??= { error };
                send({
                  type: 'commit-failed',
                  message: error instanceof Error ? error.message : String(error),
                });
              },
            );
          break;
        case 'resume':
          Promise.resolve()
            .then(() => quiesce?.resume())
            .catch(() => {});
          break;
        case 'done':
          finish(() => resolve(m.report));
          break;
        case 'error':
          finish(() => reject(callbackError ? callbackError.error : rebuildError(m.error, m.aborted)));
          break;
      }
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) =>
      finish(() => reject(new Error(`the snapshot worker exited (code ${code}) before reporting`))),
    );
  });
}
