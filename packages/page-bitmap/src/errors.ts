/**
 * Thrown by {@link PageBitmap.fromBytes} when the serialised form is truncated, corrupt, or of an
 * unsupported version. It is a `RangeError`, so callers that only distinguish `TypeError` from
 * `RangeError` keep working; `offset` says where in the input the problem was found.
 */
export class PageBitmapFormatError extends RangeError {
  /** Byte offset in the input at which decoding failed. */
  readonly offset: number;

  /**
   * @param message - what was wrong, naming the field and the allowed values
   * @param offset - byte offset in the input at which the problem was found
   */
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'PageBitmapFormatError';
    this.offset = offset;
  }
}
