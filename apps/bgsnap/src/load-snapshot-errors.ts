/** Why {@link SnapshotLoadError} was thrown. */
export type SnapshotLoadErrorCode =
  /** A region exists in both, with different sizes. Nothing was written. */
  | 'REGION_SIZE_MISMATCH'
  /** The target has a region the snapshot lacks (and `allowMissingRegions` is off). Nothing was written. */
  | 'MISSING_REGION'
  /** The snapshot has a region the target lacks (and `allowExtraRegions` is off). Nothing was written. */
  | 'EXTRA_REGION'
  /** The stream is truncated or corrupt; `pagesWritten` pages were already written (memory is partial if > 0). */
  | 'CORRUPT_STREAM';

/**
 * Thrown by {@link loadSnapshot} when the snapshot does not fit the target memory or the stream is
 * not a complete, valid snapshot. `region` names the region at fault (when one is), and
 * `pagesWritten` says whether memory was touched: 0 means it is exactly as before the call; more means
 * it holds a mix of snapshot pages and its previous contents.
 */
export class SnapshotLoadError extends Error {
  /** What was wrong. */
  readonly code: SnapshotLoadErrorCode;
  /** The region at fault, when the error is about one. */
  readonly region: string | undefined;
  /** Pages already written into memory before the error. */
  readonly pagesWritten: number;

  /**
   * @param code - What was wrong.
   * @param message - Detail, naming the region and sizes.
   * @param details - The region at fault, pages already written, and the underlying error.
   */
  constructor(
    code: SnapshotLoadErrorCode,
    message: string,
    details: { region?: string; pagesWritten?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SnapshotLoadError';
    this.code = code;
    this.region = details.region;
    this.pagesWritten = details.pagesWritten ?? 0;
  }
}

/**
 * Thrown by {@link loadSnapshot} when its `signal` aborts. Named `AbortError`, as Node's own aborted
 * operations are. Memory is left as it is at that moment — pages already loaded stay written, the
 * rest keep their previous contents (`pagesWritten` says how many were written) — and the source is
 * closed.
 */
export class SnapshotLoadAbortedError extends Error {
  /** Same code as Node's AbortError. */
  readonly code = 'ABORT_ERR';
  /** The signal's `reason`. */
  override readonly cause: unknown;
  /** Pages written before the abort was noticed. */
  readonly pagesWritten: number;

  /**
   * @param reason - The signal's reason.
   * @param pagesWritten - Pages written before the abort.
   */
  constructor(reason: unknown, pagesWritten: number) {
    const detail =
      reason instanceof Error ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : '';
    super(
      `loading the snapshot was aborted${detail}; ${pagesWritten} pages had been written, the rest of memory is unchanged`,
    );
    this.name = 'AbortError';
    this.cause = reason;
    this.pagesWritten = pagesWritten;
  }
}
