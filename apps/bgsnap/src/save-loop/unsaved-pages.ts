import { PageBitmap } from '@bgsnap/page-bitmap';

/**
 * Which pages of one region are still to be saved. Starts all-set; a page is cleared when it is saved.
 * Backed by `@bgsnap/page-bitmap`'s sparse {@link PageBitmap}, so fully saved 64 Ki-page blocks cost
 * nothing and skipping them is a summary-word scan.
 */
export interface UnsavedPages {
  /** Pages still to save. */
  readonly remaining: number;
  /** Whether page `page` is still to be saved. */
  has(page: number): boolean;
  /** Marks `[first, first + count)` saved. */
  markSaved(first: number, count: number): void;
  /** First unsaved page at or after `from`, or -1. */
  nextUnsaved(from: number): number;
  /** Length of the run of unsaved pages starting at `first` (which must be unsaved), at most `max`. */
  runLength(first: number, max: number): number;
}

class BitmapUnsavedPages implements UnsavedPages {
  private readonly bits: PageBitmap;
  private readonly size: number;

  constructor(pageCount: number) {
    this.size = pageCount;
    this.bits = new PageBitmap(pageCount).fill(true);
  }

  get remaining(): number {
    return this.bits.count();
  }

  has(page: number): boolean {
    return this.bits.test(page);
  }

  markSaved(first: number, count: number): void {
    this.bits.clearRange(first, first + count);
  }

  nextUnsaved(from: number): number {
    return from >= this.size ? -1 : this.bits.nextSet(from);
  }

  runLength(first: number, max: number): number {
    const end = this.bits.nextClear(first);
    const run = (end < 0 ? this.size : end) - first;
    return Math.min(run, max);
  }
}

/** Creates the "still to save" set for a region of `pageCount` pages (1 to 2^32). */
export function createUnsavedPages(pageCount: number): UnsavedPages {
  return new BitmapUnsavedPages(pageCount);
}
