/**
 * Batch buffers shared by all writers of the process.
 *
 * A fresh 1 MiB buffer costs a page fault per 4 KiB on first touch, and dropping a writer's buffers
 * after every snapshot made the next snapshot pay again (and churned V8's external memory): encoding
 * ran at a third of its speed until the buffers were warm. Finished writers return their idle buffers
 * here, up to a bound.
 */
const MAX_POOLED_BYTES = 32 << 20;
const free = new Map<number, Buffer[]>();
let pooledBytes = 0;

/** A buffer of exactly `capacity` bytes, reused if one is idle. */
export function acquireBatch(capacity: number): Buffer {
  const list = free.get(capacity);
  const buf = list?.pop();
  if (buf) {
    pooledBytes -= capacity;
    return buf;
  }
  return Buffer.allocUnsafeSlow(capacity);
}

/** Gives back a buffer nobody references any more (its sink write has settled). */
export function releaseBatch(buf: Buffer): void {
  if (pooledBytes + buf.length > MAX_POOLED_BYTES) return;
  let list = free.get(buf.length);
  if (!list) {
    list = [];
    free.set(buf.length, list);
  }
  list.push(buf);
  pooledBytes += buf.length;
}
