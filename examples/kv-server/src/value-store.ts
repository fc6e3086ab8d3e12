import { TrackedMemory } from '@bgsnap/fault-source-uffd';

/** Thrown by {@link ValueStore.set} for a value that cannot be stored; the message is the RESP error. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/**
 * Values in fixed-size slots of one {@link TrackedMemory} region, keys in a `Map` (key → slot).
 * Only the value bytes live in tracked memory, so only they are in a snapshot; the index (keys,
 * lengths) stays in the JS heap — a real store would keep it in tracked memory too, or save it beside.
 */
export class ValueStore {
  /** The tracked memory holding every slot. */
  readonly memory: TrackedMemory;
  readonly #slots = new Map<string, number>();
  readonly #lengths: Uint32Array;
  readonly #free: number[] = [];
  #nextSlot = 0;

  /**
   * @param sizeBytes bytes of tracked memory: `sizeBytes / slotBytes` slots.
   * @param slotBytes largest value, a page multiple dividing 1 GiB (default 4096).
   * @throws RangeError for sizes that are not whole slots.
   */
  constructor(
    sizeBytes: number,
    readonly slotBytes = 4096,
  ) {
    this.memory = TrackedMemory.allocate(sizeBytes);
    if (slotBytes % this.memory.pageSize !== 0 || this.memory.blockSize % slotBytes !== 0) {
      this.memory.release();
      throw new RangeError(`slotBytes must be a page multiple dividing 1 GiB; got ${slotBytes}`);
    }
    this.#lengths = new Uint32Array(sizeBytes / slotBytes);
  }

  /** Number of keys. */
  get size(): number {
    return this.#slots.size;
  }

  /** Slots in total. */
  get capacity(): number {
    return this.#lengths.length;
  }

  /** The slot of `key` (its value is at byte `slot * slotBytes` of {@link ValueStore.memory}), or undefined. */
  slotOf(key: string): number | undefined {
    return this.#slots.get(key);
  }

  /** The bytes of slot `slot` (a view of tracked memory: writing it is what a snapshot tracks). */
  #slot(slot: number): Uint8Array {
    const offset = slot * this.slotBytes;
    const block = this.memory.block(Math.floor(offset / this.memory.blockSize));
    const start = offset % this.memory.blockSize;
    return block.subarray(start, start + this.slotBytes);
  }

  /**
   * Stores `value` under `key`: a copy from the socket's buffer into the key's slot of tracked memory.
   * @throws StoreError when the value exceeds a slot or every slot is taken.
   */
  set(key: string, value: Uint8Array): void {
    if (value.length > this.slotBytes)
      throw new StoreError(`ERR value of ${value.length} bytes exceeds the slot size (${this.slotBytes})`);
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = this.#free.pop() ?? (this.#nextSlot < this.capacity ? this.#nextSlot++ : -1);
      if (slot < 0) throw new StoreError(`OOM all ${this.capacity} slots are in use`);
      this.#slots.set(key, slot);
    }
    this.#slot(slot).set(value); // plain mode: blocks here while the snapshot saves this page first
    this.#lengths[slot] = value.length;
  }

  /** A copy of the value of `key`, or `null`. Reading never waits for a snapshot. */
  get(key: string): Buffer | null {
    const slot = this.#slots.get(key);
    if (slot === undefined) return null;
    return Buffer.from(this.#slot(slot).subarray(0, this.#lengths[slot]));
  }

  /** Removes `key`; whether it existed. Its slot's bytes stay until reused. */
  delete(key: string): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    this.#slots.delete(key);
    this.#free.push(slot);
    return true;
  }

  /** Removes every key. */
  clear(): void {
    this.#slots.clear();
    this.#free.length = 0;
    this.#nextSlot = 0;
  }

  /** Releases the tracked memory; the store is unusable afterwards. */
  release(): void {
    this.memory.release();
  }
}
