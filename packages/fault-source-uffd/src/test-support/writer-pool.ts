import { Worker } from 'node:worker_threads';
import type { TrackedMemoryHandle } from '../tracked-memory.js';

const WORKER_URL = new URL('./writer-worker.mjs', import.meta.url);

interface PoolWorker {
  worker: Worker;
  busy: number;
  pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
}

/** Worker threads that write tracked memory on request: the "application threads" of the tests. */
export class WriterPool {
  readonly #workers: PoolWorker[] = [];
  #seq = 0;
  #next = 0;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_URL);
      const pw: PoolWorker = { worker, busy: 0, pending: new Map() };
      worker.on('message', (m: { type: string; seq: number; message?: string }) => {
        const p = pw.pending.get(m.seq);
        if (!p) return;
        pw.pending.delete(m.seq);
        pw.busy--;
        if (m.type === 'ok') p.resolve();
        else p.reject(new Error(m.message));
      });
      this.#workers.push(pw);
    }
  }

  #send(pw: PoolWorker, msg: Record<string, unknown>): Promise<void> {
    const seq = ++this.#seq;
    pw.busy++;
    return new Promise<void>((resolve, reject) => {
      pw.pending.set(seq, { resolve, reject });
      pw.worker.postMessage({ ...msg, seq });
    });
  }

  /** Every worker attaches `handle` under `key`. */
  async attach(key: string, handle: TrackedMemoryHandle): Promise<void> {
    await Promise.all(this.#workers.map((w) => this.#send(w, { type: 'attach', key, handle })));
  }

  /** Every worker releases `key`. */
  async detach(key: string): Promise<void> {
    await Promise.all(this.#workers.map((w) => this.#send(w, { type: 'detach', key })));
  }

  /** One idle worker (or the least busy) writes `page` of `key`; resolves when the write completed. */
  write(key: string, page: number): Promise<void> {
    let best = this.#workers[this.#next++ % this.#workers.length]!;
    for (const w of this.#workers) if (w.busy < best.busy) best = w;
    return this.#send(best, { type: 'write', key, page });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}
