import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { BUILD_HINT, readBuildFailureFile, recordedBuildFailure } from './build-failure.js';
import { UffdUnavailableError } from './errors.js';

/** Opaque native handles: only the addon can interpret them. */
export type NativeToken = { readonly __brand: 'bgsnap-token' };
/** @internal */
export type NativeSession = { readonly __brand: 'bgsnap-session' };

/** @internal Native session statistics, all numbers. */
export interface NativeStats {
  faults: number;
  delivered: number;
  preserved: number;
  copied: number;
  claimedByScan: number;
  sameThread: number;
  slotWaits: number;
  maxSlotsInUse: number;
  servedInThread: number;
  scanOwnedWaits: number;
  faultOwnedWaits: number;
  reserveUsed: number;
  prefaultedPages: number;
  populatedForRead: number;
  protectChunks: number;
  protectNs: number;
  maxProtectChunkNs: number;
  startedAt: number;
  protectedAt: number;
}

/** @internal The addon's exports (native/addon.cc). */
export interface NativeBinding {
  alloc(bytes: number, hugePages: boolean): NativeToken;
  attach(id: number): NativeToken;
  tokenInfo(t: NativeToken): {
    id: number;
    byteLength: number;
    hugePages: boolean;
    released: boolean;
    address: number;
  };
  releaseToken(t: NativeToken): boolean;
  view(t: NativeToken, offset: number, length: number): ArrayBuffer;
  detach(ab: ArrayBuffer): void;
  liveMappings(): number;
  sessionCreate(
    options: {
      mode: 0 | 1 | 2;
      tokens: NativeToken[];
      protectChunkBytes: number;
      copySlots: number;
      wpUnpopulated: boolean;
    },
    notify: (kind: number) => void,
  ): NativeSession;
  sessionInfo(s: NativeSession): {
    method: string;
    userModeOnly: boolean;
    features: number;
    available: number;
    protectsUnpopulated: boolean;
    knowsThreadId: boolean;
    pageSize: number;
    hugePages: boolean[];
  };
  sessionStart(s: NativeSession): void;
  sessionRef(s: NativeSession, on: boolean): void;
  /**
   * Moves up to `max` events (and as many as the buffers hold) into `meta`, six numbers each: region,
   * page, raised, released, thread id, copy index (-1: none); copy `i`'s bytes at `i × pageSize` of
   * `contents`. Returns the number of events.
   */
  sessionTake(s: NativeSession, max: number, meta: Float64Array, contents: Uint8Array | undefined): number;
  sessionArm(s: NativeSession): number;
  sessionClaim(s: NativeSession, region: number, first: number, count: number): number;
  sessionNeedsPatch(s: NativeSession): boolean;
  sessionPatch(s: NativeSession, region: number, first: number, count: number, dst: Uint8Array): number;
  /** Maps the never-written pages of the range before a read (one madvise per run); returns how many. */
  sessionPrepareRead(s: NativeSession, region: number, first: number, count: number): number;
  sessionRelease(s: NativeSession, region: number, first: number, count: number): void;
  sessionStats(s: NativeSession): NativeStats;
  sessionStop(s: NativeSession): NativeStats;
  stopAll(): number;
  probe(): { available: number; method: string; userModeOnly: boolean };
  inject(point: string, value: number): void;
  now(): number;
  /** zlib's CRC-32 of `data` continued from `seed`; undefined when the CPU lacks AVX-512 VPCLMULQDQ. */
  crc32(data: Uint8Array, seed: number): number | undefined;
  /** Copies `src` into the start of `dst` and returns its CRC-32 from `seed`; undefined as for crc32. */
  copyCrc32(src: Uint8Array, dst: Uint8Array, seed: number): number | undefined;
  tid(): number;
  pageSize(): number;
  /** Whether the in-thread SIGBUS handler is installed, and how many ranges (live or retired) it knows. */
  sigbusState(): { installed: boolean; entries: number };
  /** Test-only helpers for SIGBUS chaining (native/test-sigbus.h). */
  testSigbus(op: 'install' | 'uninstall' | 'is-installed' | 'provoke' | 'hits'): number;
}

const ADDON_FILE = 'bgsnap_uffd.node';
// src/ and dist/ are both one level below the package root.
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
let loaded: NativeBinding | undefined;
let failure: UffdUnavailableError | undefined;

function explainMissing(path: string): UffdUnavailableError {
  const cause = recordedBuildFailure(
    readBuildFailureFile(join(packageRoot, 'build', 'bgsnap-build-error.txt')),
  );
  return new UffdUnavailableError(
    `the native addon ${path} was not built${cause ? `; the last build attempt said:\n${cause}\n` : ' (no build attempt is recorded: its install script did not run, or was blocked)'}`,
    { remedy: BUILD_HINT },
  );
}

/**
 * The addon, loaded once per thread (each worker_thread loads its own instance of the same shared
 * library). Throws {@link UffdUnavailableError} saying what is missing.
 * @internal
 */
export function loadNative(): NativeBinding {
  if (loaded) return loaded;
  if (failure) throw failure;
  if (process.platform !== 'linux') {
    failure = new UffdUnavailableError(`userfaultfd exists only on Linux; this is ${process.platform}`, {
      remedy: 'use @bgsnap/fault-source-sim on this platform, or run on Linux >= 5.7',
    });
    throw failure;
  }
  // BGSNAP_UFFD_ADDON points at another build of the addon (debug builds; tests of this loader).
  const path = process.env.BGSNAP_UFFD_ADDON || join(packageRoot, 'build', 'Release', ADDON_FILE);
  if (!existsSync(path)) {
    failure = explainMissing(path);
    throw failure;
  }
  try {
    const binding = createRequire(import.meta.url)(path) as NativeBinding;
    loaded = binding;
    if (isMainThread) {
      // 'exit' runs before Node joins worker threads. A worker blocked on a protected page would make
      // that join hang, whichever thread owns the fault source, so the main thread ends them all.
      process.on('exit', () => binding.stopAll());
    }
    return binding;
  } catch (e) {
    failure = new UffdUnavailableError(`the native addon ${path} failed to load: ${(e as Error).message}`, {
      remedy: `rebuild it for this Node.js (${process.version}, ABI ${process.versions.modules}): ${BUILD_HINT}`,
      cause: e,
    });
    throw failure;
  }
}
