import { discardSink, fdSink, fileSink, type Sink, tcpSink } from '@bgsnap/stream-writer';

/**
 * A sink described by plain data, so it can cross a thread boundary and be opened on the save
 * loop's thread (a live {@link Sink} object cannot be transferred to a worker).
 */
export type SinkSpec =
  | { kind: 'file'; path: string; mode?: number }
  | { kind: 'fd'; fd: number }
  | {
      kind: 'tcp';
      host: string;
      port: number;
      /**
       * A write the receiver does not take for this long fails the snapshot with a `SinkStalledError`
       * naming `tcp host:port`, ms. Default 30 000 (the TCP sink's); 0 waits forever (an abort still
       * ends it).
       */
      stallTimeoutMs?: number;
    }
  | { kind: 'discard' };

/** Where a snapshot goes: a file path, a {@link SinkSpec}, or a live {@link Sink} (current thread only). */
export type SnapshotTarget = string | SinkSpec | Sink;

/** Whether `to` is a live sink object rather than a path or a spec. */
export function isLiveSink(to: SnapshotTarget): to is Sink {
  return typeof to === 'object' && to !== null && typeof (to as Sink).write === 'function';
}

/** Turns a path or spec into a {@link SinkSpec}; throws a TypeError for anything else. */
export function toSinkSpec(to: string | SinkSpec): SinkSpec {
  if (typeof to === 'string') {
    if (to.length === 0) throw new TypeError('to: the output path must not be empty');
    return { kind: 'file', path: to };
  }
  switch (to?.kind) {
    case 'file':
    case 'fd':
    case 'tcp':
    case 'discard':
      return to;
    default:
      throw new TypeError(
        `to: expected a file path, a sink spec ({kind: 'file'|'fd'|'tcp'|'discard'}) or a Sink, got ${JSON.stringify(to)}`,
      );
  }
}

/** Opens the sink a spec describes, on the calling thread. */
export function openSink(spec: SinkSpec): Sink {
  switch (spec.kind) {
    case 'file':
      return fileSink(spec.path, spec.mode === undefined ? {} : { mode: spec.mode });
    case 'fd':
      return fdSink(spec.fd);
    case 'tcp':
      return tcpSink(
        spec.stallTimeoutMs === undefined
          ? { host: spec.host, port: spec.port }
          : { host: spec.host, port: spec.port, stallTimeoutMs: spec.stallTimeoutMs },
      );
    case 'discard':
      return discardSink();
  }
}

/** A short description for reports, e.g. `file:/tmp/x.bgsnap`. */
export function describeTarget(to: SnapshotTarget): string {
  if (isLiveSink(to)) return 'sink:custom';
  const spec = toSinkSpec(to);
  switch (spec.kind) {
    case 'file':
      return `file:${spec.path}`;
    case 'fd':
      return `fd:${spec.fd}`;
    case 'tcp':
      return `tcp:${spec.host}:${spec.port}`;
    case 'discard':
      return 'discard';
  }
}
