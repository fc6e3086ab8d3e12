import { SnapshotAbortedError } from '../errors.js';

/** Races a promise against an abort signal. */
export type AbortRace = <T>(p: Promise<T>) => Promise<T>;

/**
 * Makes an {@link AbortRace} for `signal`: the returned function rejects with
 * {@link SnapshotAbortedError} as soon as the signal aborts. One listener per loop, however many races.
 *
 * Not `Promise.race([p, abortPromise])`: every race adds a reaction to the long-lived abort promise
 * that is only dropped when it settles, so a loop that waits millions of times (the simulator's
 * latency-bound runs) kept millions of promises alive, and the garbage collector's copying of them
 * cost more CPU than the simulation. Here a race holds its rejecter in a set only while it is pending.
 */
export function createAbortRace(signal: AbortSignal | undefined): AbortRace {
  if (!signal) return <T>(p: Promise<T>): Promise<T> => p;
  const pending = new Set<(reason: unknown) => void>();
  let listening = false;
  const onAbort = (): void => {
    const error = new SnapshotAbortedError(signal.reason);
    for (const reject of pending) reject(error);
    pending.clear();
  };
  return <T>(p: Promise<T>): Promise<T> => {
    if (signal.aborted) {
      p.catch(() => {}); // as Promise.race would: the raced promise's failure is not unhandled
      return Promise.reject(new SnapshotAbortedError(signal.reason));
    }
    if (!listening) {
      listening = true;
      signal.addEventListener('abort', onAbort, { once: true });
    }
    return new Promise<T>((resolve, reject) => {
      pending.add(reject);
      p.then(
        (value) => {
          pending.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          pending.delete(reject);
          reject(error);
        },
      );
    });
  };
}

/** Throws {@link SnapshotAbortedError} when `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SnapshotAbortedError(signal.reason);
}

/** Lets sink completions, abort messages and timers run. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
