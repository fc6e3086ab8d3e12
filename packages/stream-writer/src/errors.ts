/**
 * Typed errors of @bgsnap/stream-writer. Every error carries a stable `code` so callers branch on it,
 * never on message text.
 */

/** Codes of {@link SnapshotFormatError}: what was wrong with the bytes of a snapshot stream. */
export type SnapshotFormatErrorCode =
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'BAD_HEADER'
  | 'BAD_REGION'
  | 'LIMIT_EXCEEDED'
  | 'BAD_RECORD'
  | 'RECORD_OUT_OF_RANGE'
  | 'RECORD_EXCEEDS_STREAM'
  | 'DUPLICATE_PAGE'
  | 'CHECKSUM_MISMATCH'
  | 'DECOMPRESSION_FAILED'
  | 'TRUNCATED'
  | 'INCOMPLETE'
  | 'BAD_TRAILER'
  | 'TRAILING_DATA'
  | 'UNEXPECTED_REGIONS';

/**
 * The stream is not a valid, complete bgsnap snapshot. `offset` is the byte offset (from the start of
 * the stream) of the field or record at fault; `code` says what was wrong.
 */
export class SnapshotFormatError extends Error {
  override readonly name = 'SnapshotFormatError';
  /** Byte offset from the start of the stream of the offending field or record. */
  readonly offset: number;
  /** What was wrong; stable across versions. */
  readonly code: SnapshotFormatErrorCode;
  /** @param code - what was wrong. @param offset - byte offset at fault. @param message - detail. */
  constructor(code: SnapshotFormatErrorCode, offset: number, message: string, options?: { cause?: unknown }) {
    super(`${message} (at byte offset ${offset}, ${code})`, options);
    this.code = code;
    this.offset = offset;
  }
}

/** Codes of {@link SnapshotArgumentError}. */
export type SnapshotArgumentErrorCode =
  | 'INVALID_OPTION'
  | 'REGION_OUT_OF_RANGE'
  | 'PAGE_OUT_OF_RANGE'
  | 'BAD_LENGTH'
  | 'DUPLICATE_PAGE';

/**
 * An argument or option is outside its allowed range. `argument` names it (for example
 * `regions[1].pageSize` or `first`); the message states the allowed range.
 */
export class SnapshotArgumentError extends RangeError {
  override readonly name = 'SnapshotArgumentError';
  /** Name of the offending argument or option, as the caller spelled it. */
  readonly argument: string;
  /** What was wrong. */
  readonly code: SnapshotArgumentErrorCode;
  /** @param code - what was wrong. @param argument - its name. @param message - detail incl. allowed range. */
  constructor(code: SnapshotArgumentErrorCode, argument: string, message: string) {
    super(`${argument}: ${message}`);
    this.code = code;
    this.argument = argument;
  }
}

/** Codes of {@link SnapshotStateError}. */
export type SnapshotStateErrorCode = 'FINISHED' | 'FINISHING' | 'ABORTED' | 'INCOMPLETE';

/** The writer cannot do this in its current state (finished, aborted, or not every page written). */
export class SnapshotStateError extends Error {
  override readonly name = 'SnapshotStateError';
  /** Why the call was refused. */
  readonly code: SnapshotStateErrorCode;
  /** @param code - why. @param message - detail. */
  constructor(code: SnapshotStateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A sink failed (disk full, broken pipe, reset connection, a write that threw). The snapshot is over:
 * the writer aborted the sink, so nothing is left under a file sink's final name. `code` is the
 * system error code when there was one (`ENOSPC`, `EPIPE`, `ECONNRESET`, ...), else `SINK_FAILED`.
 */
export class SinkError extends Error {
  override readonly name: string = 'SinkError';
  /** System error code of the cause (`ENOSPC`, `EPIPE`, ...) or `SINK_FAILED`. */
  readonly code: string;
  /** Which sink operation failed. */
  readonly operation: 'open' | 'write' | 'close' | 'abort';
  /** @param operation - which operation failed. @param cause - the underlying error. */
  constructor(operation: 'open' | 'write' | 'close' | 'abort', cause: unknown, detail?: string) {
    const code = errorCode(cause) ?? 'SINK_FAILED';
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`sink ${operation} failed${detail ? ` (${detail})` : ''}: ${why}`, { cause });
    this.code = code;
    this.operation = operation;
  }
}

/** Wraps anything a sink threw into a {@link SinkError}, keeping an existing one as it is. */
export function toSinkError(operation: SinkError['operation'], cause: unknown, detail?: string): SinkError {
  return cause instanceof SinkError ? cause : new SinkError(operation, cause, detail);
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
  }
  return undefined;
}

/**
 * A sink made no progress for its stall deadline (`stallTimeoutMs`): the receiver stopped reading
 * (a TCP peer that accepts and never reads, a full pipe nobody drains). `code` is `SINK_STALLED`;
 * `peer` names the receiver and `timeoutMs` the deadline that passed.
 */
export class SinkStalledError extends SinkError {
  override readonly name: string = 'SinkStalledError';
  /** The receiver that stopped reading, e.g. `tcp 127.0.0.1:9000`, `fd 1`, `/dev/stdout`. */
  readonly peer: string;
  /** The deadline that passed, ms. */
  readonly timeoutMs: number;
  /** @param peer - who stopped reading. @param timeoutMs - the deadline. @param operation - what waited. */
  constructor(peer: string, timeoutMs: number, operation: 'open' | 'write' | 'close' = 'write') {
    super(
      operation,
      Object.assign(new Error(`${peer} accepted no bytes for ${timeoutMs} ms (stallTimeoutMs)`), {
        code: 'SINK_STALLED',
      }),
    );
    this.peer = peer;
    this.timeoutMs = timeoutMs;
  }
}

/** Codes of {@link RestoreError}. */
export type RestoreErrorCode = 'IMAGE_TOO_LARGE' | 'NO_SPACE' | 'ABORTED' | 'BAD_TARGET';

/**
 * Restoring a (possibly valid) snapshot to an image file was refused or stopped: the image would
 * exceed `maxImageBytes` or what the file system allows (`IMAGE_TOO_LARGE`), the file system lacks
 * the space for the data (`NO_SPACE`), the caller's AbortSignal fired (`ABORTED`), or the target path
 * is a folder, device, FIFO or socket, which a restore never replaces (`BAD_TARGET`). The temporary
 * image is already removed when this is thrown.
 */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
  /** What stopped the restore. */
  readonly code: RestoreErrorCode;
  /** @param code - what stopped it. @param message - detail, with the sizes involved. */
  constructor(code: RestoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
