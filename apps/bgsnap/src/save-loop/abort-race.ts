import { SnapshotAbortedError } from '../errors.js';

/** Races a promise against an abort signal. */
export type AbortRace = <T>(p: Promise<T>) => Promise<T>;

/**
 * Makes an {@link AbortRace} for `signal`: the returned function rejects with
 * {@link SnapshotAbortedError} as soon as the signal aborts. One listener per loop, however many races.
 */
export function createAbortRace(signal: AbortSignal | undefined): AbortRace {
  let abortPromise: Promise<never> | undefined;
  return <T>(p: Promise<T>): Promise<T> => {
    if (!signal) return p;
    if (!abortPromise) {
      abortPromise = new Promise<never>((_, reject) => {
        const onAbort = (): void => reject(new SnapshotAbortedError(signal.reason));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      // The abort promise may never be awaited again: keep it from being reported as unhandled.
      abortPromise.catch(() => {});
    }
    return Promise.race([p, abortPromise]);
  };
}

/** Throws {@link SnapshotAbortedError} when `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SnapshotAbortedError(signal.reason);
}

/** Lets sink completions, abort messages and timers run. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
