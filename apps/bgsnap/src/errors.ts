/**
 * Thrown by {@link snapshot} (and the save loop) when the snapshot was cancelled through its
 * `AbortSignal`. By the time it is thrown the fault source has been stopped (every page released,
 * every blocked writer resumed) and the sink aborted (nothing is left under the final output name).
 */
export class SnapshotAbortedError extends Error {
  /** The signal's `reason`, when it had one. */
  override readonly cause: unknown;

  constructor(reason?: unknown) {
    const detail =
      reason instanceof Error ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : '';
    super(`snapshot aborted${detail}; tracked memory was released and no output was kept`);
    this.name = 'SnapshotAbortedError';
    this.cause = reason;
  }
}

/**
 * Bad input to the library API or the CLI: an option out of range, an unknown policy, an unwritable
 * output folder. The message names the option and what is allowed. The CLI maps it to exit code 2.
 */
export class BadInputError extends Error {
  /** The option or argument at fault, for example `--size` or `limiter`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`${option}: ${message}`);
    this.name = 'BadInputError';
    this.option = option;
  }
}

/**
 * `quiesce.pause()` did not settle within its deadline (`quiesceTimeoutMs`). Nothing was protected and
 * no output was kept; if the pause settles later, `quiesce.resume()` is called for it.
 */
export class QuiesceTimeoutError extends Error {
  /** The deadline that passed, ms. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(
      `quiesce.pause() did not settle within ${timeoutMs} ms; the snapshot was not started and no output was kept`,
    );
    this.name = 'QuiesceTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}
