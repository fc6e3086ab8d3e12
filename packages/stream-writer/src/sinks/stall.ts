/**
 * The stall deadline every sink applies: a write (or open) that makes no progress for `stallTimeoutMs`
 * fails with a {@link SinkStalledError}, and `abort()` settles every operation still waiting at once,
 * even when the system call under it can never return (a blocking write to a pipe nobody drains).
 */
import { SinkError, SinkStalledError } from '../errors.js';

/** Default stall deadline of every sink, ms. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/** Validates the `stallTimeoutMs` option: an integer ≥ 0 (0 disables the deadline). */
export function stallTimeoutOption(value: number | undefined): number {
  if (value === undefined) return DEFAULT_STALL_TIMEOUT_MS;
  if (!Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
    throw new RangeError(
      `options.stallTimeoutMs: expected an integer in [0, 2^31 - 1] (0 disables), got ${String(value)}`,
    );
  }
  return value;
}

/** Operations of one sink that are waiting on its receiver. */
export class StallGuard {
  private readonly waiting = new Set<(error: SinkError) => void>();

  /** @param timeoutMs - the deadline, 0 for none. @param peer - names the receiver in errors. */
  constructor(
    private readonly timeoutMs: number,
    readonly peer: string,
  ) {}

  /**
   * Runs `op`, failing it with a {@link SinkStalledError} once `timeoutMs` pass without `progress()`
   * being called (`progress(false)` stops the deadline: the receiver is no longer what is awaited), and with the abort error when {@link StallGuard.abortAll} runs. A late outcome of
   * `op` after either is ignored.
   */
  run<T>(
    op: (progress: (rearm?: boolean) => void) => Promise<T>,
    operation: 'open' | 'write' | 'close' = 'write',
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = () => {
        settled = true;
        if (timer) clearTimeout(timer);
        this.waiting.delete(fail);
      };
      const fail = (error: SinkError) => {
        if (settled) return;
        finish();
        reject(error);
      };
      const arm = (rearm = true) => {
        if (timer) clearTimeout(timer);
        if (this.timeoutMs === 0 || settled || !rearm) return;
        timer = setTimeout(
          () => fail(new SinkStalledError(this.peer, this.timeoutMs, operation)),
          this.timeoutMs,
        );
      };
      this.waiting.add(fail);
      arm();
      op(arm).then(
        (value) => {
          if (settled) return;
          finish();
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          finish();
          reject(error);
        },
      );
    });
  }

  /** Rejects every waiting operation with a SinkError saying the sink was aborted. */
  abortAll(): void {
    for (const fail of [...this.waiting])
      fail(new SinkError('write', new Error(`sink to ${this.peer} was aborted`)));
  }
}
