import { parseRate, parseSize, parseDuration as parseUnitsDuration, UnitParseError } from '@bgsnap/units';
import { SimConfigError } from './config.js';
import { Prng, subSeed } from './prng.js';
import type { SimFaultSource } from './sim-fault-source.js';

/**
 * When a simulated sink makes no progress.
 * - `none`: never stalls.
 * - `periodic`: stalls for `stallNs` at the end of every `everyNs` period (periods start at virtual time 0),
 *   e.g. `{ kind: 'periodic', stallNs: 50e6, everyNs: 250e6 }` is "50 ms every 250 ms".
 * - `random`: stalls start as a Poisson process with mean gap `meanIntervalNs`; each lasts an
 *   exponentially distributed time with mean `meanStallNs`; `seed` (default: derived from the
 *   simulation's seed) makes it reproducible.
 */
export type SinkStall =
  | { readonly kind: 'none' }
  | { readonly kind: 'periodic'; readonly stallNs: number; readonly everyNs: number }
  | {
      readonly kind: 'random';
      readonly meanIntervalNs: number;
      readonly meanStallNs: number;
      readonly seed?: number;
    };

/** A simulated output device. */
export interface SimSinkOptions {
  /** Bytes per second of virtual time while not stalled. Default 1e9. */
  readonly bandwidth?: number;
  /** Fixed cost per write() (syscall, device latency), ns. Default 20 000. */
  readonly writeLatencyNs?: number;
  /** Stall pattern. Default none. */
  readonly stall?: SinkStall;
  /** Fail (reject) the write that would take the total past this many bytes, to test error paths. */
  readonly failAfterBytes?: number;
  /**
   * Called synchronously with every chunk written (for example to decode and verify the stream). The
   * chunk is the caller's: copy what you keep.
   */
  readonly onChunk?: (chunk: Uint8Array, now: number) => void;
}

/** Counters of a {@link SimSink}. */
export interface SimSinkStats {
  /** `write()` calls accepted. */
  readonly writes: number;
  /** Bytes accepted. */
  readonly bytes: number;
  /** Virtual time the device spent serving writes (including stalls hit while serving). */
  readonly busyNs: number;
  /** Part of `busyNs` spent stalled. */
  readonly stalledNs: number;
  /** Longest single write, from submission to completion (queueing included). */
  readonly maxWriteNs: number;
  /** `close()` was called. */
  readonly closed: boolean;
  /** `abort()` was called. */
  readonly aborted: boolean;
}

/** Thrown by a simulated sink: an injected failure, or a write after close/abort. */
export class SimSinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimSinkError';
  }
}

/** Validates sink options; {@link SimConfigError} lists every problem. */
export function validateSinkOptions(o: SimSinkOptions): void {
  const problems: string[] = [];
  const nonNeg = (name: string, v: unknown, positive = false) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (positive && v === 0)) {
      problems.push(`${name} must be a finite number ${positive ? '> 0' : '≥ 0'}, got ${String(v)}`);
    }
  };
  if (o.bandwidth !== undefined) nonNeg('sink.bandwidth', o.bandwidth, true);
  if (o.writeLatencyNs !== undefined) nonNeg('sink.writeLatencyNs', o.writeLatencyNs);
  if (o.failAfterBytes !== undefined) nonNeg('sink.failAfterBytes', o.failAfterBytes);
  const s = o.stall;
  if (s !== undefined) {
    switch (s?.kind) {
      case 'none':
        break;
      case 'periodic':
        nonNeg('sink.stall.stallNs', s.stallNs);
        nonNeg('sink.stall.everyNs', s.everyNs, true);
        if (s.stallNs >= s.everyNs)
          problems.push('sink.stall.stallNs must be shorter than sink.stall.everyNs');
        break;
      case 'random':
        nonNeg('sink.stall.meanIntervalNs', s.meanIntervalNs, true);
        nonNeg('sink.stall.meanStallNs', s.meanStallNs);
        if (s.seed !== undefined && !Number.isSafeInteger(s.seed))
          problems.push('sink.stall.seed must be an integer');
        break;
      default:
        problems.push(
          `sink.stall.kind must be 'none', 'periodic' or 'random', got '${String((s as { kind?: unknown })?.kind)}'`,
        );
    }
  }
  if (problems.length > 0) throw new SimConfigError(problems);
}

/**
 * A simulated sink: structurally a `@bgsnap/stream-writer` `Sink`. Writes are served one after another
 * by a device with a bandwidth, a per-write latency and stalls; each `write()` resolves when virtual
 * time reaches its completion, while the simulated CPUs keep running. Create it with
 * {@link createSimSink}.
 */
export class SimSink {
  private busyUntil = 0;
  private lastCompletion: Promise<void> = Promise.resolve();
  private readonly bandwidth: number;
  private readonly latency: number;
  private readonly stall: SinkStall;
  private readonly rng: Prng | null;
  private stallStart = Number.POSITIVE_INFINITY;
  private stallEnd = Number.POSITIVE_INFINITY;
  private s = { writes: 0, bytes: 0, busyNs: 0, stalledNs: 0, maxWriteNs: 0, closed: false, aborted: false };

  constructor(
    private readonly sim: SimFaultSource,
    private readonly options: SimSinkOptions = {},
    ordinal = 0,
  ) {
    validateSinkOptions(options);
    this.bandwidth = options.bandwidth ?? 1e9;
    this.latency = options.writeLatencyNs ?? 20_000;
    this.stall = options.stall ?? { kind: 'none' };
    if (this.stall.kind === 'random') {
      this.rng = new Prng(this.stall.seed ?? subSeed(sim.config.seed, 1000 + ordinal));
      this.stallStart = this.rng.exponential(this.stall.meanIntervalNs);
      this.stallEnd = this.stallStart + this.rng.exponential(this.stall.meanStallNs);
    } else {
      this.rng = null;
    }
  }

  /** Queues `chunk` on the device; resolves at its virtual completion time. */
  write(chunk: Uint8Array): Promise<void> {
    if (this.s.aborted || this.s.closed) {
      return Promise.reject(new SimSinkError(`write() after ${this.s.aborted ? 'abort()' : 'close()'}`));
    }
    this.sim.touch();
    const now = this.sim.clock.now();
    this.options.onChunk?.(chunk, now);
    const bytes = chunk.byteLength;
    const start = Math.max(now, this.busyUntil);
    const end = this.serve(start, this.latency + (bytes * 1e9) / this.bandwidth);
    this.busyUntil = end;
    this.s.writes++;
    this.s.bytes += bytes;
    this.s.busyNs += end - start;
    if (end - now > this.s.maxWriteNs) this.s.maxWriteNs = end - now;
    const fail = this.options.failAfterBytes !== undefined && this.s.bytes > this.options.failAfterBytes;
    const done = new Promise<void>((resolve, reject) => {
      this.sim.schedule(end, () => {
        if (fail)
          reject(new SimSinkError(`simulated sink failure after ${this.options.failAfterBytes} bytes`));
        else resolve();
      });
    });
    this.lastCompletion = done.catch(() => {});
    return done;
  }

  /** Resolves when every queued write has completed (virtual time). */
  async close(): Promise<void> {
    if (this.s.aborted) throw new SimSinkError('close() after abort()');
    this.s.closed = true;
    await this.lastCompletion;
  }

  /** Discards the sink; idempotent. Queued writes still complete. */
  async abort(_reason?: unknown): Promise<void> {
    this.s.aborted = true;
  }

  /** Counters so far (a fresh object each call). */
  get stats(): SimSinkStats {
    return { ...this.s };
  }

  /** Serves `work` ns of device time from `t`, skipping stall windows; returns the completion time. */
  private serve(t: number, work: number): number {
    let left = work;
    for (;;) {
      const [s, e] = this.stallAround(t);
      if (t >= s) {
        this.s.stalledNs += e - t;
        t = e;
        continue;
      }
      if (t + left <= s) return t + left;
      left -= s - t;
      t = s;
    }
  }

  /** The stall window containing `t`, or else the next one after `t`: [start, end). */
  private stallAround(t: number): [number, number] {
    const st = this.stall;
    if (st.kind === 'none' || (st.kind === 'periodic' && st.stallNs === 0)) {
      return [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
    }
    if (st.kind === 'periodic') {
      const periodStart = Math.floor(t / st.everyNs) * st.everyNs;
      const s = periodStart + st.everyNs - st.stallNs;
      return [s, periodStart + st.everyNs];
    }
    const rng = this.rng as Prng;
    while (this.stallEnd <= t) {
      this.stallStart = this.stallEnd + rng.exponential(st.meanIntervalNs);
      this.stallEnd = this.stallStart + rng.exponential(st.meanStallNs);
    }
    return [this.stallStart, this.stallEnd];
  }
}

/**
 * Creates a simulated sink on `sim`'s virtual clock.
 * @throws SimConfigError listing every problem in `options`.
 */
export function createSimSink(sim: SimFaultSource, options?: SimSinkOptions): SimSink {
  return new SimSink(sim, options);
}

/**
 * Runs a `@bgsnap/units` parser; on a units error records its message as a problem (so one
 * SimConfigError lists them all) and yields 0.
 */
function collect(problems: string[], parse: () => number): number {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof UnitParseError)) throw error;
    problems.push(error.message);
    return 0;
  }
}

/**
 * Parses a compact sink profile, for command lines: comma-separated `key=value` items.
 *
 * - `bandwidth=500MB/s`: any `@bgsnap/units` rate (`100M/s`, `100MiB/s`, `1GB/s`, `100M`; `K`/`M`/`G`
 *   are 1024-based, `KB`/`MB`/`GB` 1000-based, the `/s` is optional), as `--limiter` rates are read
 * - `latency=20us`: any `@bgsnap/units` duration (`ns`, `us`/`µs`, `ms`, `s`, `m`; a bare number is ns)
 * - `stall=none` | `stall=50ms/250ms` (periodic: 50 ms every 250 ms) | `stall=random:20ms/1s[:seed]`
 *   (random: mean stall 20 ms, mean gap 1 s)
 * - `fail-after=1GB`: any `@bgsnap/units` size
 *
 * `none` alone, or an empty string, is the default sink.
 * @throws SimConfigError listing every problem found.
 */
export function parseSinkProfile(spec: string): SimSinkOptions {
  const problems: string[] = [];
  const out: {
    bandwidth?: number;
    writeLatencyNs?: number;
    stall?: SinkStall;
    failAfterBytes?: number;
  } = {};
  const parseDuration = (text: string, what: string): number =>
    collect(problems, () => parseUnitsDuration(text, { what }));
  const trimmed = spec.trim();
  if (trimmed !== '' && trimmed !== 'none') {
    for (const item of trimmed.split(',')) {
      const eq = item.indexOf('=');
      const key = (eq < 0 ? item : item.slice(0, eq)).trim();
      const value = eq < 0 ? '' : item.slice(eq + 1).trim();
      switch (key) {
        case 'bandwidth':
          out.bandwidth = collect(problems, () => parseRate(value, { what: 'bandwidth' }));
          break;
        case 'latency':
          out.writeLatencyNs = parseDuration(value, 'latency');
          break;
        case 'fail-after':
          out.failAfterBytes = collect(problems, () => parseSize(value, { what: 'fail-after' }));
          break;
        case 'stall': {
          if (value === 'none') {
            out.stall = { kind: 'none' };
          } else if (value.startsWith('random:')) {
            const [stall, interval, seed] = value.slice('random:'.length).split(/[/:]/);
            const r: { kind: 'random'; meanStallNs: number; meanIntervalNs: number; seed?: number } = {
              kind: 'random',
              meanStallNs: parseDuration(stall ?? '', 'stall (random mean stall)'),
              meanIntervalNs: parseDuration(interval ?? '', 'stall (random mean gap)'),
            };
            if (seed !== undefined) {
              if (/^[0-9]+$/.test(seed)) r.seed = Number(seed);
              else problems.push(`stall: random seed must be an integer, got '${seed}'`);
            }
            out.stall = r;
          } else {
            const [stall, every, extra] = value.split('/');
            if (every === undefined || extra !== undefined) {
              problems.push(
                `stall: expected none, STALL/PERIOD (e.g. 50ms/250ms) or random:STALL/GAP, got '${value}'`,
              );
            } else {
              out.stall = {
                kind: 'periodic',
                stallNs: parseDuration(stall ?? '', 'stall'),
                everyNs: parseDuration(every, 'stall period'),
              };
            }
          }
          break;
        }
        default:
          problems.push(`unknown sink profile key '${key}'; known: bandwidth, latency, stall, fail-after`);
      }
    }
  }
  if (problems.length > 0) throw new SimConfigError(problems);
  validateSinkOptions(out);
  return out;
}
