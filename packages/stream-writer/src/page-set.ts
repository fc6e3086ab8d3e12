/**
 * Which pages of each region have been seen: the duplicate check of writer and reader.
 *
 * Sparse on purpose: bitmap chunks are allocated only where pages are marked, so a header that claims
 * a huge region costs nothing until records actually name its pages, and each record can allocate at
 * most a couple of chunks.
 */
// 1 Ki pages per chunk (128 bytes of bitmap): small, so a crafted stream of tiny records each naming
// a new chunk can make the reader allocate only a few bytes per byte it reads.
const CHUNK_SHIFT = 10;
const CHUNK_PAGES = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_PAGES - 1;

export class PageSet {
  private readonly chunks: Map<number, Uint32Array>[];
  private readonly marked: number[];

  constructor(readonly pageCounts: readonly number[]) {
    this.chunks = pageCounts.map(() => new Map());
    this.marked = pageCounts.map(() => 0);
  }

  /** Pages marked in `region`. */
  count(region: number): number {
    return this.marked[region]!;
  }

  /** Returns the first page of `[first, first + count)` already marked, or -1. Marks nothing. */
  findMarked(region: number, first: number, count: number): number {
    const chunks = this.chunks[region]!;
    let page = first;
    const end = first + count;
    while (page < end) {
      const chunkIndex = Math.floor(page / CHUNK_PAGES);
      const chunkEnd = Math.min(end, (chunkIndex + 1) * CHUNK_PAGES);
      const chunk = chunks.get(chunkIndex);
      if (chunk) {
        for (let p = page; p < chunkEnd; p++) {
          const bit = p & CHUNK_MASK;
          if ((chunk[bit >>> 5]! & (1 << (bit & 31))) !== 0) return p;
        }
      }
      page = chunkEnd;
    }
    return -1;
  }

  /** Marks `[first, first + count)`; the caller has checked that none is marked. */
  mark(region: number, first: number, count: number): void {
    const chunks = this.chunks[region]!;
    let page = first;
    const end = first + count;
    while (page < end) {
      const chunkIndex = Math.floor(page / CHUNK_PAGES);
      const chunkEnd = Math.min(end, (chunkIndex + 1) * CHUNK_PAGES);
      let chunk = chunks.get(chunkIndex);
      if (!chunk) {
        chunk = new Uint32Array(CHUNK_PAGES >>> 5);
        chunks.set(chunkIndex, chunk);
      }
      for (let p = page; p < chunkEnd; p++) {
        const bit = p & CHUNK_MASK;
        chunk[bit >>> 5]! |= 1 << (bit & 31);
      }
      page = chunkEnd;
    }
    this.marked[region]! += count;
  }

  /** First page of `region` not marked, or -1 if all are. */
  firstUnmarked(region: number): number {
    const total = this.pageCounts[region]!;
    const chunks = this.chunks[region]!;
    for (let base = 0; base < total; base += CHUNK_PAGES) {
      const chunk = chunks.get(base / CHUNK_PAGES);
      if (!chunk) return base;
      const end = Math.min(total, base + CHUNK_PAGES);
      for (let p = base; p < end; p++) {
        const bit = p & CHUNK_MASK;
        if ((chunk[bit >>> 5]! & (1 << (bit & 31))) === 0) return p;
      }
    }
    return -1;
  }
}
