/**
 * The naive reference model the property tests compare against: one byte per bit, every query a
 * linear scan. Obviously right, hopelessly slow — which is the point.
 */
export class ModelBitmap {
  readonly bits: Uint8Array;
  constructor(readonly size: number) {
    this.bits = new Uint8Array(size);
  }
  test(i: number): boolean {
    return this.bits[i] === 1;
  }
  set(i: number): boolean {
    const changed = this.bits[i] === 0;
    this.bits[i] = 1;
    return changed;
  }
  clear(i: number): boolean {
    const changed = this.bits[i] === 1;
    this.bits[i] = 0;
    return changed;
  }
  setRange(s: number, e: number): number {
    let n = 0;
    for (let i = s; i < e; i++) if (this.set(i)) n++;
    return n;
  }
  clearRange(s: number, e: number): number {
    let n = 0;
    for (let i = s; i < e; i++) if (this.clear(i)) n++;
    return n;
  }
  fill(v: boolean): void {
    this.bits.fill(v ? 1 : 0);
  }
  countRange(s: number, e: number): number {
    let n = 0;
    for (let i = s; i < e; i++) n += this.bits[i]!;
    return n;
  }
  count(): number {
    return this.countRange(0, this.size);
  }
  private find(value: number, from: number, wrap: boolean): number {
    for (let i = from; i < this.size; i++) if (this.bits[i] === value) return i;
    if (wrap) for (let i = 0; i < Math.min(from, this.size); i++) if (this.bits[i] === value) return i;
    return -1;
  }
  nextSet(from: number, wrap = false): number {
    return this.find(1, from, wrap);
  }
  nextClear(from: number, wrap = false): number {
    return this.find(0, from, wrap);
  }
  runs(s = 0, e = this.size): [number, number][] {
    const out: [number, number][] = [];
    let open = -1;
    for (let i = s; i < e; i++) {
      if (this.bits[i] === 1) {
        if (open < 0) open = i;
      } else if (open >= 0) {
        out.push([open, i - open]);
        open = -1;
      }
    }
    if (open >= 0) out.push([open, e - open]);
    return out;
  }
}

/** Collects a bitmap's runs through its callback form. */
export function collectRuns(
  bm: { forEachRun(cb: (s: number, l: number) => unknown, start?: number, end?: number): void },
  start?: number,
  end?: number,
): [number, number][] {
  const out: [number, number][] = [];
  bm.forEachRun(
    (s, l) => {
      out.push([s, l]);
    },
    start,
    end,
  );
  return out;
}
