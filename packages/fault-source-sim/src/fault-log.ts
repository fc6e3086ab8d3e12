/** Every fault the simulation raised, as parallel arrays indexed by fault number. */
export interface FaultRecords {
  /** Number of faults recorded (the arrays' length). */
  readonly count: number;
  /** When the writer hit the protected page (virtual ns). */
  readonly raisedAt: Float64Array;
  /** When the save loop took the event (`WriteFault.fetchedAt`); NaN if never taken. */
  readonly fetchedAt: Float64Array;
  /** When the writer ran again; NaN if it is still blocked. `resumedAt - raisedAt` is the true latency. */
  readonly resumedAt: Float64Array;
  /** Global page index. */
  readonly page: Float64Array;
  /** Writer: the CPU index, or `cpus.length + k` for the k-th injected write. */
  readonly writer: Int32Array;
}

/** Growable columns; amortised O(1) append, no per-fault allocation. */
export class FaultLog {
  count = 0;
  private raisedAt = new Float64Array(1024);
  private fetchedAt = new Float64Array(1024);
  private resumedAt = new Float64Array(1024);
  private page = new Float64Array(1024);
  private writer = new Int32Array(1024);

  constructor(private readonly enabled: boolean) {}

  add(raisedAt: number, page: number, writer: number): number {
    if (!this.enabled) return -1;
    if (this.count === this.raisedAt.length) this.grow();
    const i = this.count++;
    this.raisedAt[i] = raisedAt;
    this.fetchedAt[i] = Number.NaN;
    this.resumedAt[i] = Number.NaN;
    this.page[i] = page;
    this.writer[i] = writer;
    return i;
  }

  fetched(id: number, at: number): void {
    if (id >= 0 && Number.isNaN(this.fetchedAt[id] as number)) this.fetchedAt[id] = at;
  }

  resumed(id: number, at: number): void {
    if (id >= 0) this.resumedAt[id] = at;
  }

  private grow(): void {
    const n = this.raisedAt.length * 2;
    const g = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.raisedAt = g(this.raisedAt, (k) => new Float64Array(k));
    this.fetchedAt = g(this.fetchedAt, (k) => new Float64Array(k));
    this.resumedAt = g(this.resumedAt, (k) => new Float64Array(k));
    this.page = g(this.page, (k) => new Float64Array(k));
    this.writer = g(this.writer, (k) => new Int32Array(k));
  }

  /** Copies of the recorded columns. */
  snapshot(): FaultRecords {
    const n = this.count;
    return {
      count: n,
      raisedAt: this.raisedAt.slice(0, n),
      fetchedAt: this.fetchedAt.slice(0, n),
      resumedAt: this.resumedAt.slice(0, n),
      page: this.page.slice(0, n),
      writer: this.writer.slice(0, n),
    };
  }
}
