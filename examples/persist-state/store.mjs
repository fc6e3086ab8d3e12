// A small key-value store laid out in one TrackedMemory region, so a snapshot of the region is a
// snapshot of the store. Page 0 is the header; the rest is a table of fixed 128-byte slots, cut
// into one partition per writer thread, so that no two threads ever write the same slot.
//
//   header: 'KVSTATE1' | u32 writers | u32 slots per writer | ... | f64 ops applied, per writer (at 64)
//   slot:   u32 key length (0 = empty) | u32 value length | key (32 bytes) | value (88 bytes)

const MAGIC = 'KVSTATE1';
const HEADER_BYTES = 4096;
const SLOT_BYTES = 128;
const KEY_MAX = 32;
const VALUE_MAX = 88;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** FNV-1a over the key's bytes: where a key starts probing in its partition. */
function hash(bytes) {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** The store over `memory` (a TrackedMemory, ≤ 1 GiB so one block holds it). */
export function openStore(memory) {
  const bytes = memory.block(0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ops = new Float64Array(bytes.buffer, bytes.byteOffset + 64, 64);
  /** What the header says: read afresh, since loading a snapshot or `format()` changes it. */
  const header = () => ({
    initialized: decoder.decode(bytes.subarray(0, 8)) === MAGIC,
    writers: view.getUint32(8, true),
    slotsPerWriter: view.getUint32(12, true),
  });

  /** Lays out an empty store for `writers` partitions (memory fresh from allocate: all zeros). */
  function format(writers) {
    const slotsPerWriter = Math.floor((bytes.byteLength - HEADER_BYTES) / SLOT_BYTES / writers);
    encoder.encodeInto(MAGIC, bytes.subarray(0, 8));
    view.setUint32(8, writers, true);
    view.setUint32(12, slotsPerWriter, true);
  }

  /** Finds the slot of `key` in `writer`'s partition, or the empty slot where it would go. */
  function slotOf(writer, key) {
    const { slotsPerWriter } = header();
    for (let probe = 0, i = hash(key) % slotsPerWriter; probe < slotsPerWriter; probe++) {
      const at = HEADER_BYTES + (writer * slotsPerWriter + i) * SLOT_BYTES;
      const length = view.getUint32(at, true);
      if (
        length === 0 ||
        (length === key.length && bytes.subarray(at + 8, at + 8 + length).every((b, j) => b === key[j]))
      )
        return at;
      i = (i + 1) % slotsPerWriter;
    }
    throw new RangeError(`partition ${writer} is full`);
  }

  return {
    header,
    format,
    /** Operations the writer had applied; stored in the region, so a snapshot carries it. */
    opsOf: (writer) => ops[writer],
    setOps: (writer, n) => {
      ops[writer] = n;
    },
    /** Sets `key` to `value` in `writer`'s partition; call only from that writer. */
    put(writer, key, value) {
      const k = encoder.encode(key);
      const v = encoder.encode(value);
      if (k.length === 0 || k.length > KEY_MAX || v.length > VALUE_MAX)
        throw new RangeError(`key or value too long: ${key}`);
      const at = slotOf(writer, k);
      bytes.set(k, at + 8);
      bytes.set(v, at + 8 + KEY_MAX);
      view.setUint32(at + 4, v.length, true);
      view.setUint32(at, k.length, true); // last: a slot is taken once its key is complete
    },
    /** Every key and value, partition by partition. */
    *entries() {
      const { writers, slotsPerWriter } = header();
      const slots = writers * slotsPerWriter;
      for (let at = HEADER_BYTES; at < HEADER_BYTES + slots * SLOT_BYTES; at += SLOT_BYTES) {
        const length = view.getUint32(at, true);
        if (length === 0) continue;
        const key = decoder.decode(bytes.subarray(at + 8, at + 8 + length));
        const value = decoder.decode(
          bytes.subarray(at + 8 + KEY_MAX, at + 8 + KEY_MAX + view.getUint32(at + 4, true)),
        );
        yield [key, value];
      }
    },
  };
}
