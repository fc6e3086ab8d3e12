import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { TrackedMemoryHandle } from '@bgsnap/fault-source-uffd';
import { createLatencyHistogram, type LatencyHistogram, matchWriterFaults, recordLatency } from 'bgsnap';
import { BENCH_CTRL, type BenchWriterData, type BenchWriterResult } from './writer-protocol.js';

/**
 * The worker script beside the built module: `dist/bench-writer.js`. tsup puts this module in
 * `dist/cli.js`, `dist/index.js` or a `dist/chunk-*.js`, all in the same folder.
 */
const WRITER_URL = new URL('./bench-writer.js', import.meta.url);

/** Totals of all writers, after {@link BenchWriters.stop}. */
export interface BenchWritersResult {
  writes: number;
  recordedWrites: number;
  firstWrites: number;
  /** Writes classified as write faults: slow first writes to pages that a fault event named. */
  faults: number;
  /** Their latencies as the writers measured them. */
  faultLatency: LatencyHistogram;
  /** Slow first writes to pages no fault event named (kernel minor faults, descheduling). */
  otherSlowFirstWrites: number;
  /** Longest single write while recording, ns, and when it began (ms since the epoch). */
  maxWriteNs: number;
  maxWriteAtMs: number;
  over1ms: number;
  over5ms: number;
}

/** Writer threads that store into tracked memory and time every store. */
export class BenchWriters {
  private readonly ctrl: Int32Array;
  private readonly workers: Worker[] = [];
  private readonly results: Promise<BenchWriterResult>[] = [];
  /** Made when each worker is created: `once(worker, 'exit')` taken after the exit would wait forever. */
  private readonly exits: Promise<unknown>[] = [];
  private epoch = 0;

  private constructor(handle: TrackedMemoryHandle, writers: number, rate: number, seed: number) {
    const control = new SharedArrayBuffer(4 * (BENCH_CTRL.counts + writers));
    this.ctrl = new Int32Array(control);
    for (let index = 0; index < writers; index++) {
      const data: BenchWriterData = {
        index,
        handle,
        pageCount: handle.byteLength / handle.pageSize,
        pageSize: handle.pageSize,
        rate,
        seed,
        control,
      };
      const worker = new Worker(WRITER_URL, { workerData: data });
      this.workers.push(worker);
      this.exits.push(once(worker, 'exit').catch(() => {}));
      const result = new Promise<BenchWriterResult>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) =>
          reject(new Error(`bench writer ${index} exited (code ${code}) without a result`)),
        );
      });
      result.catch(() => {});
      this.results.push(result);
    }
  }

  /** Starts `writers` threads writing `rate` stores/s each (0 = unpaced) into the memory behind `handle`. */
  static start(options: {
    handle: TrackedMemoryHandle;
    writers: number;
    rate: number;
    seed?: number;
  }): BenchWriters {
    if (!Number.isInteger(options.writers) || options.writers < 1) {
      throw new RangeError(`writers must be an integer >= 1, got ${options.writers}`);
    }
    return new BenchWriters(options.handle, options.writers, options.rate, options.seed ?? 1);
  }

  /** Stores done so far, all writers. */
  get writes(): number {
    let n = 0;
    for (let i = 0; i < this.workers.length; i++) n += Atomics.load(this.ctrl, BENCH_CTRL.counts + i) >>> 0;
    return n;
  }

  /** Resolves once every writer has made at least one store (threads started, memory attached). */
  async running(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let failed: unknown;
    for (const r of this.results) r.catch((e: unknown) => (failed ??= e));
    for (;;) {
      if (failed !== undefined) throw failed;
      let all = true;
      for (let i = 0; i < this.workers.length; i++)
        all &&= Atomics.load(this.ctrl, BENCH_CTRL.counts + i) !== 0;
      if (all) return;
      if (Date.now() > deadline) throw new Error(`bench writers did not start within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Starts (or restarts) timing: a new epoch, so every page's next store counts as a first write. */
  record(on: boolean): void {
    this.epoch = on ? this.epoch + 1 : this.epoch;
    Atomics.store(this.ctrl, BENCH_CTRL.epoch, on ? this.epoch : 0);
  }

  /** Parks every writer between two stores; resolves when all are parked. */
  async pause(): Promise<void> {
    Atomics.store(this.ctrl, BENCH_CTRL.command, 1);
    const deadline = Date.now() + 10_000;
    while (Atomics.load(this.ctrl, BENCH_CTRL.parked) < this.workers.length) {
      if (Date.now() > deadline) throw new Error('bench writers did not pause within 10 s');
      // A short spin first: a paced writer parks within a ms, and timers are coarse.
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Lets the writers continue. */
  resume(): void {
    Atomics.store(this.ctrl, BENCH_CTRL.command, 0);
    Atomics.notify(this.ctrl, BENCH_CTRL.command);
  }

  /** Stops the writers and merges their results. */
  async stop(faulted?: Uint8Array): Promise<BenchWritersResult> {
    Atomics.store(this.ctrl, BENCH_CTRL.command, 2);
    Atomics.notify(this.ctrl, BENCH_CTRL.command);
    const results = await Promise.all(this.results);
    await Promise.all(this.exits);
    const total: BenchWritersResult = {
      writes: 0,
      recordedWrites: 0,
      firstWrites: 0,
      faults: 0,
      faultLatency: createLatencyHistogram(),
      otherSlowFirstWrites: 0,
      maxWriteNs: 0,
      maxWriteAtMs: 0,
      over1ms: 0,
      over5ms: 0,
    };
    for (const r of results) {
      total.writes += r.writes;
      total.recordedWrites += r.recordedWrites;
      total.firstWrites += r.firstWrites;
      if (r.maxWriteNs > total.maxWriteNs) {
        total.maxWriteNs = r.maxWriteNs;
        total.maxWriteAtMs = r.maxWriteAtMs;
      }
      total.over1ms += r.over1ms;
      total.over5ms += r.over5ms;
    }
    const slow = results.map((r) => r.slowFirstWrites);
    if (faulted !== undefined) {
      const match = matchWriterFaults(slow, faulted, total.faultLatency);
      total.faults = match.faults;
      total.otherSlowFirstWrites = match.others;
    } else {
      for (const pairs of slow) {
        for (let i = 1; i < pairs.length; i += 2) recordLatency(total.faultLatency, pairs[i]!);
        total.faults += pairs.length / 2;
      }
    }
    return total;
  }

  /** Terminates the writers at once (error paths). */
  async kill(): Promise<void> {
    Atomics.store(this.ctrl, BENCH_CTRL.command, 2);
    Atomics.notify(this.ctrl, BENCH_CTRL.command);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
