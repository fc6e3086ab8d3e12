/**
 * Which pages of one region are still to be saved. Starts all-set; a page is cleared when it is saved.
 * Implemented over `@bgsnap/page-bitmap` (see {@link createUnsavedPages}).
 */
export interface UnsavedPages {
  /** Pages still to save. */
  readonly remaining: number;
  /** Whether page `page` is still to be saved. */
  has(page: number): boolean;
  /** Marks `[first, first + count)` saved; every page in it must still be unsaved. */
  markSaved(first: number, count: number): void;
  /** First unsaved page at or after `from`, or -1. */
  nextUnsaved(from: number): number;
  /** Length of the run of unsaved pages starting at `first`, at most `max`. */
  runLength(first: number, max: number): number;
}

/** A plain word bitmap; used until/unless a page-bitmap implementation is wired in. */
export class WordUnsavedPages implements UnsavedPages {
  private readonly words: Uint32Array;
  private readonly pageCount: number;
  remaining: number;

  constructor(pageCount: number) {
    this.pageCount = pageCount;
    this.remaining = pageCount;
    this.words = new Uint32Array(Math.ceil(pageCount / 32)).fill(0xffffffff);
    const tail = pageCount & 31;
    if (tail !== 0) this.words[this.words.length - 1] = (2 ** tail - 1) >>> 0;
  }

  has(page: number): boolean {
    return ((this.words[page >>> 5]! >>> (page & 31)) & 1) === 1;
  }

  markSaved(first: number, count: number): void {
    for (let p = first, end = first + count; p < end; p++) {
      this.words[p >>> 5]! &= ~(1 << (p & 31));
    }
    this.remaining -= count;
  }

  nextUnsaved(from: number): number {
    if (from >= this.pageCount) return -1;
    let w = from >>> 5;
    let bits = this.words[w]! & (0xffffffff << (from & 31));
    while (bits === 0) {
      w++;
      if (w >= this.words.length) return -1;
      bits = this.words[w]!;
    }
    return (w << 5) + (31 - Math.clz32(bits & -bits));
  }

  runLength(first: number, max: number): number {
    let n = 0;
    const end = Math.min(this.pageCount, first + max);
    for (let p = first; p < end && this.has(p); p++) n++;
    return n;
  }
}

/** Creates the "still to save" set for a region of `pageCount` pages. */
export function createUnsavedPages(pageCount: number): UnsavedPages {
  return new WordUnsavedPages(pageCount);
}
