import { connect } from 'node:net';
import type { Sink } from './sink.js';
import { stallTimeoutOption } from './stall.js';
import { writableSink } from './writable-sink.js';

/** Options of {@link tcpSink}. */
export interface TcpSinkOptions {
  /** Host name or address to connect to. */
  host: string;
  /** TCP port, 1–65535. */
  port: number;
  /**
   * How long `close()` waits for the receiver to read everything and close its side, ms (default
   * 30 000). Waiting for the peer's close is what tells a delivered snapshot from one that sat in
   * kernel buffers when the peer reset the connection.
   */
  closeTimeoutMs?: number;
  /** How long to wait for the connection to be established, ms (default 10 000); then ETIMEDOUT. */
  connectTimeoutMs?: number;
  /**
   * A write the receiver does not take for this long (it accepted the connection but stopped
   * reading, and the socket buffers are full) fails with a {@link SinkStalledError} naming
   * `tcp host:port`, ms. Default 30 000; 0 waits forever.
   */
  stallTimeoutMs?: number;
}

/**
 * A sink that streams the snapshot over one TCP connection, opened at once. `close()` half-closes the
 * connection and resolves once the receiver closed its side as well (so it read everything);
 * `abort()` resets it (RST), so the receiver
 * sees an error rather than a clean end of stream. A refused or reset connection fails the snapshot
 * with a {@link SinkError} whose `code` is the system's (`ECONNREFUSED`, `ECONNRESET`, `EPIPE`).
 */
export function tcpSink(options: TcpSinkOptions): Sink {
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new RangeError(`options.port: expected an integer in [1, 65535], got ${String(options.port)}`);
  }
  stallTimeoutOption(options.stallTimeoutMs);
  const socket = connect({ host: options.host, port: options.port });
  socket.setNoDelay(true);
  // Without this an unreachable host holds the snapshot for the kernel's SYN retries (minutes).
  const connectTimer = setTimeout(() => {
    socket.destroy(
      Object.assign(new Error(`connect to ${options.host}:${options.port} timed out`), { code: 'ETIMEDOUT' }),
    );
  }, options.connectTimeoutMs ?? 10_000);
  connectTimer.unref();
  socket.once('connect', () => clearTimeout(connectTimer));
  socket.once('close', () => clearTimeout(connectTimer));
  const inner = writableSink(socket, {
    destroyOnAbort: false,
    // A socket is done with a chunk when its write callback fires: no copy needed.
    copy: false,
    waitForClose: true,
    closeTimeoutMs: options.closeTimeoutMs ?? 30_000,
    stallTimeoutMs: options.stallTimeoutMs,
    peer: `tcp ${options.host}:${options.port}`,
  });
  return {
    write: (chunk) => inner.write(chunk),
    close: () => inner.close(),
    async abort(reason) {
      // Settles a write in flight at once; the reset below frees the socket whatever the peer does.
      await inner.abort(reason);
      if (!socket.destroyed) {
        // resetAndDestroy needs a connected handle; before connect, a plain destroy is all there is.
        if (socket.connecting) socket.destroy();
        else socket.resetAndDestroy();
      }
    },
  };
}
