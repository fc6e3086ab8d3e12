import { Worker } from 'node:worker_threads';
import type { TrackedMemory } from '../tracked-memory.js';

const WORKER_URL = new URL('./random-writer.mjs', import.meta.url);

/** Two (or more) worker threads writing seeded random data to random pages of one memory. */
export class RandomWriters {
  readonly #ctl = new Int32Array(new SharedArrayBuffer(64));
  readonly #workers: Worker[] = [];
  readonly #exited: Promise<unknown>[] = [];

  constructor(
    memory: TrackedMemory,
    count: number,
    seed: number,
    pageLimit: number,
    mode: 'random' | 'counter' = 'random',
  ) {
    Atomics.store(this.#ctl, 3, pageLimit);
    for (let id = 0; id < count; id++) {
      const w = new Worker(WORKER_URL, {
        workerData: {
          handle: memory.handle,
          control: this.#ctl.buffer,
          id,
          seed: seed * 7919 + id * 104729 + 1,
          mode,
        },
      });
      this.#exited.push(new Promise((resolve) => w.once('exit', resolve)));
      w.on('error', (e) => {
        throw e;
      });
      this.#workers.push(w);
    }
  }

  /** Writes done so far by all writers (a lower bound, updated every 64 writes). */
  get writes(): number {
    let n = 0;
    for (let i = 0; i < this.#workers.length; i++) n += Atomics.load(this.#ctl, 4 + i);
    return n;
  }

  /** Exact writes of writer `id` (valid while paused). */
  writesOf(id: number): number {
    return Atomics.load(this.#ctl, 4 + id);
  }

  /** Lets writers write pages `[0, limit)`. */
  setPageLimit(limit: number): void {
    Atomics.store(this.#ctl, 3, limit);
  }

  /** Resolves when every writer is parked (none is between two bytes of a write). */
  async pause(command = 1, timeoutMs = 10_000): Promise<void> {
    Atomics.store(this.#ctl, 0, command);
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < this.#workers.length; i++) {
      while (Atomics.load(this.#ctl, 1 + i) !== 1) {
        if (Date.now() > deadline) throw new Error(`writer ${i} did not pause within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  }

  /** Writer 0 writes every page once, then all are paused. Rejects when that does not finish in time. */
  sweep(timeoutMs = 10_000): Promise<void> {
    return this.pause(3, timeoutMs);
  }

  resume(): void {
    Atomics.store(this.#ctl, 0, 0);
    Atomics.notify(this.#ctl, 0);
  }

  /** Waits until the writers made `n` more writes. */
  async progress(n: number, timeoutMs = 10_000): Promise<void> {
    const target = this.writes + n;
    const deadline = Date.now() + timeoutMs;
    while (this.writes < target) {
      if (Date.now() > deadline) throw new Error(`writers made no progress within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  async close(): Promise<void> {
    Atomics.store(this.#ctl, 0, 2);
    Atomics.notify(this.#ctl, 0);
    await Promise.all(this.#exited);
  }
}
