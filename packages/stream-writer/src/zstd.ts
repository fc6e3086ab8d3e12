/**
 * zstd through @bokuweb/zstd-wasm (a WebAssembly build shipped inside the npm package: no install
 * script, no native toolchain), used only through its public entry.
 *
 * That entry's `init()` is async, while the writer compresses synchronously inside `writePages` and is
 * created synchronously. Awaiting it at the top level (ESM top-level await) would make the package
 * impossible to `require()` (ERR_REQUIRE_ASYNC_MODULE) and would load the WebAssembly module for
 * every consumer, compressing or not. So it is loaded on demand: {@link zstdReady} starts (once) and
 * awaits it; the reader awaits it before its first ZSTD record; a writer that compresses needs it
 * done before it is created ({@link zstdCodec} throws {@link ZstdNotReadyError} otherwise), so its
 * creator awaits {@link zstdReady} first (the bgsnap app's `snapshot()` does).
 *
 * The entry's decompressor sizes its output buffer from the frame header's content size. The reader
 * checks every ZSTD payload with `checkZstdFrame` before decompressing (a declared size must equal the
 * record's), and passes the record's size + 1 as the size to assume when a frame declares none, so a
 * payload can never make it allocate more than the record holds.
 */
import { compressUsingDict, createCCtx, decompress, init } from '@bokuweb/zstd-wasm';

/** Smallest and largest compression levels accepted by {@link ZstdCodec}. */
export const ZSTD_MIN_LEVEL = 1;
export const ZSTD_MAX_LEVEL = 19;

let initializing: Promise<void> | undefined;
let initialized = false;

/**
 * Loads and instantiates the zstd WebAssembly module, once per process; later calls return the same
 * promise. Await it before creating a writer with zstd compression.
 */
export function zstdReady(): Promise<void> {
  initializing ??= init().then(() => {
    initialized = true;
  });
  return initializing;
}

/** A zstd codec was needed before {@link zstdReady} had settled. */
export class ZstdNotReadyError extends Error {
  /** Machine-readable code. */
  readonly code = 'ZSTD_NOT_READY';
  constructor() {
    super(
      'zstd is not loaded yet: await zstdReady() (from @bgsnap/stream-writer) before creating a writer that compresses',
    );
    this.name = 'ZstdNotReadyError';
  }
}

const NO_DICTIONARY = new Uint8Array(0);

/**
 * A reusable zstd compressor (one compression context for the life of the process) and decompressor.
 * Not reentrant; JS is single threaded so one instance per process is enough.
 */
export class ZstdCodec {
  private readonly cctx: number;

  constructor() {
    this.cctx = createCCtx();
    if (this.cctx === 0) throw new Error('zstd: cannot create a compression context');
  }

  /**
   * Compresses `src` and returns the compressed frame, or `undefined` when the frame would not be
   * smaller than `src`.
   */
  compress(src: Uint8Array, level: number): Uint8Array | undefined {
    let frame: Uint8Array;
    try {
      frame = compressUsingDict(this.cctx, src, NO_DICTIONARY, level);
    } catch (error) {
      throw new Error(`zstd: compression failed (${(error as Error).message})`);
    }
    return frame.byteLength < src.byteLength ? frame : undefined;
  }

  /**
   * Decompresses one frame into `out`, which must receive exactly `out.byteLength` bytes. Returns false
   * if the frame is invalid or does not decode to exactly that many bytes. Check the frame with
   * `checkZstdFrame` first: a declared content size is what the decompressor allocates.
   */
  decompressInto(src: Uint8Array, out: Uint8Array): boolean {
    let data: Uint8Array;
    try {
      // One byte of extra room for a frame that declares no size: one that decodes to more than
      // expected fails, and is rejected.
      data = decompress(src, { defaultHeapSize: out.byteLength + 1 });
    } catch {
      return false;
    }
    if (data.byteLength !== out.byteLength) return false;
    out.set(data);
    return true;
  }
}

let shared: ZstdCodec | undefined;

/**
 * The process-wide codec, created on first use.
 * @throws ZstdNotReadyError before {@link zstdReady} has settled.
 */
export function zstdCodec(): ZstdCodec {
  if (!initialized) throw new ZstdNotReadyError();
  shared ??= new ZstdCodec();
  return shared;
}
