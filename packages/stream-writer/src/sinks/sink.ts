/**
 * Where snapshot bytes go. Structural: any object with these three methods is a sink (the simulator's
 * virtual-time sink implements it without importing this package).
 */
export interface Sink {
  /**
   * Writes `chunk`. May resolve late: that delay is the backpressure the writer measures. The caller
   * does not reuse `chunk` until the promise settles. Rejects if the bytes cannot be delivered.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes and finalises (a file sink fsyncs and renames into place). Called once, after the last write settled. */
  close(): Promise<void>;
  /**
   * Discards the output: nothing is left under a file sink's final name. Idempotent; never rejects for
   * a sink already failed. May be called while a write is in flight (the writer waits only briefly
   * for it, since a receiver that stopped reading can hold it forever): the package's sinks then
   * reject that write at once.
   */
  abort(reason?: unknown): Promise<void>;
}
