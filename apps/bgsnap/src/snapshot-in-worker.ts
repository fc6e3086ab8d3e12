import { Worker } from 'node:worker_threads';
import { BadInputError, SnapshotAbortedError } from './errors.js';
import type { SnapshotReport } from './report/report.js';
import type { SnapshotProgress } from './save-loop/types.js';
import type { Quiesce } from './snapshot-core.js';
import type { MainToWorker, SerializedError, SnapshotWorkerData, WorkerToMain } from './worker-protocol.js';

/** The worker script, next to this module in the built package (tsup emits every entry into dist/). */
const WORKER_URL = new URL('./snapshot-worker.js', import.meta.url);

/** What {@link runSnapshotInWorker} needs: the worker's data plus the live callbacks that stay here. */
export interface InWorkerOptions extends Omit<SnapshotWorkerData, 'quiesce' | 'progress'> {
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: SnapshotProgress) => void) | undefined;
  quiesce?: Quiesce | undefined;
}

function rebuildError(e: SerializedError, aborted: boolean): Error {
  if (aborted || e.name === 'SnapshotAbortedError') {
    const error = new SnapshotAbortedError(e.message.replace(/^snapshot aborted: ?/, ''));
    error.message = e.message;
    return error;
  }
  const error =
    e.name === 'BadInputError' && e.option ? new BadInputError(e.option, '') : new Error(e.message);
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
  const { signal, onProgress, quiesce, ...rest } = options;
  if (signal?.aborted) return Promise.reject(new SnapshotAbortedError(signal.reason));
  const workerData: SnapshotWorkerData = {
    ...rest,
    quiesce: quiesce !== undefined,
    progress: onProgress !== undefined,
  };
  const worker = new Worker(WORKER_URL, { workerData });
  return new Promise<SnapshotReport>((resolve, reject) => {
    let settled = false;
    const send = (m: MainToWorker): void => worker.postMessage(m);
    const onAbort = (): void => {
      const reason = signal?.reason;
      send({ type: 'abort', reason: reason instanceof Error ? reason.message : String(reason ?? 'aborted') });
    };
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
          onProgress?.(m.progress);
          break;
        case 'pause':
          Promise.resolve()
            .then(() => quiesce?.pause())
            .then(
              () => send({ type: 'paused' }),
              (e: unknown) =>
                send({ type: 'pause-failed', message: e instanceof Error ? e.message : String(e) }),
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
          finish(() => reject(rebuildError(m.error, m.aborted)));
          break;
      }
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) =>
      finish(() => reject(new Error(`the snapshot worker exited (code ${code}) before reporting`))),
    );
  });
}
