/**
 * Default bytes of faulted pages held until the scan writes them: as much as the writer may buffer
 * while draining (`maxBufferedWhileDrainingBytes`), allocated only as faults come.
 */
export const DEFAULT_STAGED_FAULT_BYTES = 64 * 2 ** 20;

/** Slots per slab chunk: 1 MiB of 4 KiB pages. */
const CHUNK_SLOTS = 256;
/** Pages per block of the page → slot index (256 KiB of index), allocated when a page in it is staged. */
const INDEX_BLOCK_SHIFT = 16;
const INDEX_BLOCK_MASK = (1 << INDEX_BLOCK_SHIFT) - 1;

/** Where the scan is: pages at or after it are still ahead of it. */
export interface ScanPosition {
  readonly region: number;
  readonly page: number;
}

/**
 * Copy-on-fault sources deliver every faulted page as its own event, and one page written on its own
 * is one stream record: under writers that fault all the time this cost the loop several times what a
 * scanned page costs, and the slower scan let still more pages fault. A faulted page the scan has not
 * reached yet is therefore copied here instead, and the scan writes it as part of its run, in the
 * same record as its neighbours. A bounded slab that grows as pages come: when it is full, faulted
 * pages are written at once.
 */
export class StagedFaults {
  /** Pages staged now. */
  count = 0;
  private readonly slotBytes: number;
  private readonly capacity: number;
  /** Slab chunks of {@link CHUNK_SLOTS} slots, allocated as staging grows. */
  private readonly chunks: Uint8Array[] = [];
  /**
   * Per region, per block of pages: slot + 1 per page, or 0 when not staged. Typed arrays, so a fault
   * makes no garbage; in blocks made as pages are staged, so the index of a simulated TiB costs only
   * the blocks that faults touched, not 4 bytes for every page.
   */
  private readonly slots: (Int32Array | undefined)[][];
  private readonly free: number[] = [];
  /** Slots handed out so far; slots at or above it were never used. */
  private used = 0;

  /**
   * @param pageSizes - Page size per region.
   * @param pageCounts - Pages per region.
   * @param capacityBytes - Most bytes held; the slab grows in chunks up to it.
   * @param position - The scan's position, read when a fault is offered.
   */
  constructor(
    pageSizes: readonly number[],
    pageCounts: readonly number[],
    capacityBytes: number,
    private readonly position: ScanPosition,
  ) {
    this.slotBytes = Math.max(1, ...pageSizes);
    this.capacity = Math.max(0, Math.floor(capacityBytes / this.slotBytes));
    this.slots = pageCounts.map(
      (n) => new Array<Int32Array | undefined>(Math.ceil(n / (INDEX_BLOCK_MASK + 1))),
    );
  }

  /** Whether `page` of `region` is staged. */
  has(region: number, page: number): boolean {
    if (this.count === 0) return false;
    const block = this.slots[region]![page >>> INDEX_BLOCK_SHIFT];
    return block !== undefined && block[page & INDEX_BLOCK_MASK]! > 0;
  }

  /**
   * Copies `contents` for the scan when the page is still ahead of it and there is room. Returns
   * false when the caller must write the page itself.
   */
  offer(region: number, page: number, contents: Uint8Array): boolean {
    const at = this.position;
    if (region < at.region || (region === at.region && page < at.page)) return false;
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.used >= this.capacity) return false;
      slot = this.used++;
      if (slot % CHUNK_SLOTS === 0) {
        const slots = Math.min(CHUNK_SLOTS, this.capacity - slot);
        this.chunks.push(new Uint8Array(slots * this.slotBytes));
      }
    }
    this.chunks[Math.floor(slot / CHUNK_SLOTS)]!.set(contents, (slot % CHUNK_SLOTS) * this.slotBytes);
    const blocks = this.slots[region]!;
    const b = page >>> INDEX_BLOCK_SHIFT;
    let block = blocks[b];
    if (block === undefined) {
      block = new Int32Array(INDEX_BLOCK_MASK + 1);
      blocks[b] = block;
    }
    block[page & INDEX_BLOCK_MASK] = slot + 1;
    this.count++;
    return true;
  }

  /** Copies staged `page` of `region` (`pageSize` bytes) to `dst` at `offset` and frees its slot. */
  take(region: number, page: number, pageSize: number, dst: Uint8Array, offset: number): void {
    const block = this.slots[region]![page >>> INDEX_BLOCK_SHIFT];
    const slot = (block?.[page & INDEX_BLOCK_MASK] ?? 0) - 1;
    if (block === undefined || slot < 0) throw new Error(`page ${page} of region ${region} is not staged`);
    const start = (slot % CHUNK_SLOTS) * this.slotBytes;
    dst.set(this.chunks[Math.floor(slot / CHUNK_SLOTS)]!.subarray(start, start + pageSize), offset);
    block[page & INDEX_BLOCK_MASK] = 0;
    this.free.push(slot);
    this.count--;
  }
}
