import { connect } from 'node:net';
import type { Sink } from './sink.js';
import { writableSink } from './writable-sink.js';

/** Options of {@link tcpSink}. */
export interface TcpSinkOptions {
  /** Host name or address to connect to. */
  host: string;
  /** TCP port, 1–65535. */
  port: number;
}

/**
 * A sink that streams the snapshot over one TCP connection, opened at once. `close()` half-closes the
 * connection after the last byte was handed to the kernel; `abort()` resets it (RST), so the receiver
 * sees an error rather than a clean end of stream. A refused or reset connection fails the snapshot
 * with a {@link SinkError} whose `code` is the system's (`ECONNREFUSED`, `ECONNRESET`, `EPIPE`).
 */
export function tcpSink(options: TcpSinkOptions): Sink {
  const socket = connect({ host: options.host, port: options.port });
  socket.setNoDelay(true);
  const inner = writableSink(socket, { destroyOnAbort: false });
  return {
    write: (chunk) => inner.write(chunk),
    close: () => inner.close(),
    async abort(reason) {
      await inner.abort(reason);
      if (!socket.destroyed) {
        // resetAndDestroy needs a connected handle; before connect, a plain destroy is all there is.
        if (socket.connecting) socket.destroy();
        else socket.resetAndDestroy();
      }
    },
  };
}
