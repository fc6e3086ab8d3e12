/**
 * zstd through @bokuweb/zstd-wasm (a WebAssembly build shipped inside the npm package: no install
 * script, no native toolchain). The package only offers an async init and allocates a fresh context per
 * call; the writer must compress synchronously inside writePages, so this module instantiates the
 * shipped .wasm synchronously once and keeps one compression and one decompression context, plus
 * reusable heap buffers, for the life of the process.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// lib "ES2023" has no WebAssembly typings; these few shapes are all this module touches.
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => WasmInstance;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface ZstdModule {
  HEAPU8: Uint8Array;
  instantiateWasm?: (imports: object, receive: (instance: WasmInstance) => unknown) => unknown;
  init(buf?: Uint8Array): unknown;
  calledRun?: boolean;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _ZSTD_isError(code: number): number;
  _ZSTD_compressBound(size: number): number;
  _ZSTD_createCCtx(): number;
  _ZSTD_createDCtx(): number;
  _ZSTD_compress_usingDict(
    cctx: number,
    dst: number,
    cap: number,
    src: number,
    size: number,
    dict: number,
    dictSize: number,
    level: number,
  ): number;
  _ZSTD_decompress_usingDict(
    dctx: number,
    dst: number,
    cap: number,
    src: number,
    size: number,
    dict: number,
    dictSize: number,
  ): number;
}

/** Smallest and largest compression levels accepted by {@link ZstdCodec}. */
export const ZSTD_MIN_LEVEL = 1;
export const ZSTD_MAX_LEVEL = 19;

let loaded: ZstdModule | undefined;

function load(): ZstdModule {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('@bokuweb/zstd-wasm'));
  const { Module } = require(join(dir, 'module.js')) as { Module: ZstdModule };
  if (!Module.calledRun) {
    const binary = readFileSync(join(dir, 'zstd.wasm'));
    Module.instantiateWasm = (imports, receive) => {
      const instance = new wasm.Instance(new wasm.Module(binary), imports);
      receive(instance);
      return instance.exports;
    };
    Module.init();
  }
  if (!Module.calledRun) throw new Error('zstd WebAssembly module did not initialise synchronously');
  loaded = Module;
  return Module;
}

/**
 * A reusable zstd compressor/decompressor working on the WASM heap. Not reentrant; JS is single
 * threaded so one instance per process is enough.
 */
export class ZstdCodec {
  private readonly m: ZstdModule;
  private readonly cctx: number;
  private readonly dctx: number;
  private srcPtr = 0;
  private srcCap = 0;
  private dstPtr = 0;
  private dstCap = 0;

  constructor() {
    this.m = load();
    this.cctx = this.m._ZSTD_createCCtx();
    this.dctx = this.m._ZSTD_createDCtx();
    if (this.cctx === 0 || this.dctx === 0) throw new Error('zstd: cannot create a context');
  }

  private ensure(srcSize: number, dstSize: number): void {
    if (srcSize > this.srcCap) {
      if (this.srcPtr) this.m._free(this.srcPtr);
      this.srcPtr = this.m._malloc(srcSize);
      this.srcCap = this.srcPtr ? srcSize : 0;
      if (!this.srcPtr) throw new Error(`zstd: cannot allocate ${srcSize} bytes`);
    }
    if (dstSize > this.dstCap) {
      if (this.dstPtr) this.m._free(this.dstPtr);
      this.dstPtr = this.m._malloc(dstSize);
      this.dstCap = this.dstPtr ? dstSize : 0;
      if (!this.dstPtr) throw new Error(`zstd: cannot allocate ${dstSize} bytes`);
    }
  }

  /**
   * Compresses `src` and returns a view of the compressed frame on the WASM heap, or `undefined` when
   * the frame would not be smaller than `src`. The view is valid until the next call.
   */
  compress(src: Uint8Array, level: number): Uint8Array | undefined {
    const bound = this.m._ZSTD_compressBound(src.byteLength);
    this.ensure(src.byteLength, bound);
    this.m.HEAPU8.set(src, this.srcPtr);
    const size = this.m._ZSTD_compress_usingDict(
      this.cctx,
      this.dstPtr,
      bound,
      this.srcPtr,
      src.byteLength,
      0,
      0,
      level,
    );
    if (this.m._ZSTD_isError(size)) throw new Error(`zstd: compression failed (code ${size})`);
    if (size >= src.byteLength) return undefined;
    return this.m.HEAPU8.subarray(this.dstPtr, this.dstPtr + size);
  }

  /**
   * Decompresses one frame into `out`, which must receive exactly `out.byteLength` bytes. Returns false
   * if the frame is invalid or does not decode to exactly that many bytes.
   */
  decompressInto(src: Uint8Array, out: Uint8Array): boolean {
    this.ensure(src.byteLength, out.byteLength + 1);
    this.m.HEAPU8.set(src, this.srcPtr);
    // One byte of extra capacity: a frame that decodes to more than expected fails or overshoots, and
    // either way is rejected, without ever allocating what the frame claims.
    const size = this.m._ZSTD_decompress_usingDict(
      this.dctx,
      this.dstPtr,
      out.byteLength + 1,
      this.srcPtr,
      src.byteLength,
      0,
      0,
    );
    if (this.m._ZSTD_isError(size) || size !== out.byteLength) return false;
    out.set(this.m.HEAPU8.subarray(this.dstPtr, this.dstPtr + size));
    return true;
  }
}

let shared: ZstdCodec | undefined;

/** The process-wide codec, created on first use. */
export function zstdCodec(): ZstdCodec {
  shared ??= new ZstdCodec();
  return shared;
}
