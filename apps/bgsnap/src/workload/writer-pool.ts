import { Worker } from 'node:worker_threads';
import type { TrackedMemoryHandle } from '@bgsnap/fault-source-uffd';
import {
  createLatencyHistogram,
  decodeHistogram,
  type LatencyHistogram,
} from '../save-loop/latency-histogram.js';
import { matchWriterFaults, type WriterFaultMatch } from './writer-faults.js';
import { CTRL, type WritePattern, type WriterResult, type WriterWorkerData } from './writer-protocol.js';

const WRITER_URL = new URL('./workload-writer.js', import.meta.url);

/** Options of {@link WriterPool.start}. */
export interface WriterPoolOptions {
  /** The tracked memory's handle; each writer attaches its own views. */
  handle: TrackedMemoryHandle;
  /** Number of writer threads (≥ 1). */
  writers: number;
  /** Writes per second per writer; 0 = unpaced. */
  rate: number;
  pattern: WritePattern;
  seed?: number;
}

/** Totals after {@link WriterPool.stop}. */
export interface WriterPoolResult {
  writes: number;
  /** Timed write latencies while recording was on, all writers merged. */
  latency: LatencyHistogram;
  /** With the faulted-page map given to {@link WriterPool.stop}: the stores that took a write fault. */
  faults?: WriterFaultMatch;
}

/**
 * The `bgsnap run` demo workload: writer worker_threads that write tracked memory, can be paused (all
 * parked between writes) and resumed, and time every write while recording is on.
 */
export class WriterPool {
  private readonly ctrl: Int32Array;
  private readonly workers: Worker[];
  private readonly results: Promise<WriterResult>[];
  /**
   * One promise per writer that settles when it has exited. Made when the worker is created: a writer
   * exits right after posting its result, so a listener attached later can miss the event, and a
   * promise nobody will ever settle lets the event loop drain mid-await (Node then exits with 13).
   */
  private readonly exited: Promise<void>[];

  private constructor(options: WriterPoolOptions) {
    const control = new SharedArrayBuffer(4 * (CTRL.counts + options.writers));
    this.ctrl = new Int32Array(control);
    const firstStores = new SharedArrayBuffer(options.handle.byteLength / options.handle.pageSize);
    this.workers = [];
    this.results = [];
    this.exited = [];
    for (let index = 0; index < options.writers; index++) {
      const workerData: WriterWorkerData = {
        index,
        handle: options.handle,
        byteLength: options.handle.byteLength,
        pageSize: options.handle.pageSize,
        rate: options.rate,
        pattern: options.pattern,
        seed: options.seed ?? 1,
        control,
        firstStores,
      };
      const worker = new Worker(WRITER_URL, { workerData });
      this.workers.push(worker);
      this.exited.push(new Promise<void>((resolve) => worker.once('exit', () => resolve())));
      this.results.push(
        new Promise<WriterResult>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', (code) =>
            reject(new Error(`writer ${index} exited (code ${code}) without a result`)),
          );
        }),
      );
    }
    for (const r of this.results) r.catch(() => {});
  }

  /** Starts the writers. */
  static start(options: WriterPoolOptions): WriterPool {
    if (!Number.isInteger(options.writers) || options.writers < 1) {
      throw new RangeError(`writers must be an integer >= 1, got ${options.writers}`);
    }
    return new WriterPool(options);
  }

  /** Writes done so far, all writers. */
  get writes(): number {
    let n = 0;
    for (let i = 0; i < this.workers.length; i++) n += Atomics.load(this.ctrl, CTRL.counts + i) >>> 0;
    return n;
  }

  /** Parks every writer between two writes; resolves when all are parked. */
  async pause(): Promise<void> {
    Atomics.store(this.ctrl, CTRL.command, 1);
    const deadline = Date.now() + 10_000;
    while (Atomics.load(this.ctrl, CTRL.parked) < this.workers.length) {
      if (Date.now() > deadline) throw new Error('writers did not pause within 10 s');
      // Writers need not all have started yet: poll rather than Atomics.wait on the main thread.
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Lets the writers continue. */
  resume(): void {
    Atomics.store(this.ctrl, CTRL.command, 0);
    Atomics.notify(this.ctrl, CTRL.command);
  }

  /** Turns timing of writes into the histogram on or off. */
  record(on: boolean): void {
    Atomics.store(this.ctrl, CTRL.recording, on ? 1 : 0);
  }

  /**
   * Stops the writers and merges their results. Given the map of pages that fault events named (see
   * `recordFaultedPages`), also picks out the stores that took a write fault.
   */
  async stop(faulted?: Uint8Array): Promise<WriterPoolResult> {
    Atomics.store(this.ctrl, CTRL.command, 2);
    Atomics.notify(this.ctrl, CTRL.command);
    const results = await Promise.all(this.results);
    await Promise.all(this.exited);
    const latency = createLatencyHistogram();
    let writes = 0;
    for (const r of results) {
      writes += r.writes;
      latency.add(decodeHistogram(r.histogram));
    }
    if (faulted === undefined) return { writes, latency };
    return {
      writes,
      latency,
      faults: matchWriterFaults(
        results.map((r) => r.firstStores),
        faulted,
      ),
    };
  }

  /** Terminates the writers at once (error paths). */
  async kill(): Promise<void> {
    Atomics.store(this.ctrl, CTRL.command, 2);
    Atomics.notify(this.ctrl, CTRL.command);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
