import { readFileSync, statSync } from 'node:fs';

/**
 * Why a userfaultfd operation failed, as a stable string a caller can branch on.
 *
 * - `ADDON_UNAVAILABLE`: the native addon is not built or cannot load (not Linux x64, no compiler at install).
 * - `PERMISSION_DENIED`: the kernel refused a userfaultfd to this process (EPERM/EACCES).
 * - `KERNEL_UNSUPPORTED`: the kernel has no userfaultfd, or not the write-protect kind this needs.
 * - `ALREADY_TRACKED`: the memory is already registered with another fault source.
 * - `MEMORY_RELEASED`: the tracked memory was released (use after release).
 * - `SAME_THREAD_WRITE`: the thread that handles faults wrote protected memory itself where it would
 *   have waited on itself (plain mode; in-thread mode when no copy slot was free or its scan held the page).
 * - `SYSCALL_FAILED`: any other failed system call; {@link UffdError.syscall} and {@link UffdError.errno} say which.
 */
export type UffdErrorCode =
  | 'ADDON_UNAVAILABLE'
  | 'PERMISSION_DENIED'
  | 'KERNEL_UNSUPPORTED'
  | 'ALREADY_TRACKED'
  | 'MEMORY_RELEASED'
  | 'SAME_THREAD_WRITE'
  | 'SYSCALL_FAILED';

/** Details a {@link UffdError} can carry. */
export interface UffdErrorDetails {
  /** The system call that failed, e.g. `ioctl(UFFDIO_API)`. */
  readonly syscall?: string;
  /** The errno name, e.g. `EPERM`. */
  readonly errno?: string;
  /** What to do about it. */
  readonly remedy?: string;
  /** The underlying error. */
  readonly cause?: unknown;
}

/** Base class of every error this package throws on purpose (besides `RangeError`/`TypeError` for bad arguments). */
export class UffdError extends Error {
  /** Stable machine-readable reason. */
  readonly code: UffdErrorCode;
  /** The system call that failed, when one did. */
  readonly syscall: string | undefined;
  /** The errno name of the failed call, when one did. */
  readonly errno: string | undefined;
  /** What to do about it, when there is something to do. */
  readonly remedy: string | undefined;

  constructor(code: UffdErrorCode, message: string, details: UffdErrorDetails = {}) {
    super(details.remedy ? `${message}. Remedy: ${details.remedy}` : message, { cause: details.cause });
    this.name = 'UffdError';
    this.code = code;
    this.syscall = details.syscall;
    this.errno = details.errno;
    this.remedy = details.remedy;
  }
}

/** The native addon could not be loaded; {@link UffdError.remedy} says what is missing. */
export class UffdUnavailableError extends UffdError {
  constructor(message: string, details: UffdErrorDetails = {}) {
    super('ADDON_UNAVAILABLE', message, details);
    this.name = 'UffdUnavailableError';
  }
}

/** The kernel refused this process a userfaultfd (EPERM/EACCES on every way of opening one). */
export class UffdPermissionError extends UffdError {
  constructor(message: string, details: UffdErrorDetails = {}) {
    super('PERMISSION_DENIED', message, details);
    this.name = 'UffdPermissionError';
  }
}

/** The kernel lacks userfaultfd or a feature this package needs (ENOSYS, EINVAL from the API handshake, missing WP). */
export class UffdUnsupportedError extends UffdError {
  /** The missing feature, when one is named (e.g. `UFFD_FEATURE_PAGEFAULT_FLAG_WP`). */
  readonly feature: string | undefined;

  constructor(message: string, details: UffdErrorDetails & { feature?: string } = {}) {
    super('KERNEL_UNSUPPORTED', message, details);
    this.name = 'UffdUnsupportedError';
    this.feature = details.feature;
  }
}

/** A system call failed for a reason without a more specific class; `syscall` and `errno` name it. */
export class UffdSyscallError extends UffdError {
  constructor(message: string, details: UffdErrorDetails = {}, code: UffdErrorCode = 'SYSCALL_FAILED') {
    super(code, message, details);
    this.name = 'UffdSyscallError';
  }
}

/** A {@link TrackedMemory} (or the mapping behind a handle) was used after it was released. */
export class TrackedMemoryReleasedError extends UffdError {
  constructor(message = 'the tracked memory was released') {
    super('MEMORY_RELEASED', message, {
      remedy: 'keep the TrackedMemory (or one attached in another thread) unreleased while you use it',
    });
    this.name = 'TrackedMemoryReleasedError';
  }
}

/**
 * The thread that takes fault events wrote protected memory itself where it would have waited for
 * itself forever.
 *
 * Plain mode: the backend copied the page's snapshot contents and released it instead, so the
 * snapshot is still consistent, and reports the mistake with this error (once per write).
 *
 * In-thread mode: when no copy slot was free, the page went into a small reserve (still consistent;
 * reported once). When the reserve was used up too, or the page was one the thread's own scan had
 * claimed and not yet released, the page was released without a copy: the snapshot is no longer
 * consistent, and every later `takeFaults`, `waitForFaults` and `release` throws this error until
 * `stop()`.
 */
export class SameThreadWriteError extends UffdError {
  constructor(message: string) {
    super('SAME_THREAD_WRITE', message, {
      remedy:
        'write tracked memory only from other threads (worker_threads) than the one running the save loop; in plain mode or to keep that thread writing, use mode "copy-on-fault"; in "in-thread" mode a larger copyBufferPages makes it rarer, and never write tracked memory between claim() and release()',
    });
    this.name = 'SameThreadWriteError';
  }
}

const PERMISSION_REMEDY =
  'run as root or with CAP_SYS_PTRACE; or allow unprivileged userfaultfd with `sudo sysctl vm.unprivileged_userfaultfd=1`; ' +
  'or (Linux >= 6.1) give this user read/write access to /dev/userfaultfd, e.g. `sudo setfacl -m u:$USER:rw /dev/userfaultfd`';

// What the machine says about userfaultfd permissions, for the error message.
function describePermissions(): string {
  const facts: string[] = [];
  try {
    const v = readFileSync('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').trim();
    facts.push(`vm.unprivileged_userfaultfd=${v}`);
  } catch {
    facts.push('vm.unprivileged_userfaultfd unreadable');
  }
  try {
    const st = statSync('/dev/userfaultfd');
    facts.push(`/dev/userfaultfd mode ${(st.mode & 0o777).toString(8)} uid ${st.uid} gid ${st.gid}`);
  } catch {
    facts.push('no /dev/userfaultfd (Linux < 6.1)');
  }
  return facts.join(', ');
}

interface NativeErrorShape {
  native: true;
  code: string;
  message: string;
  syscall?: string;
  errno?: number;
}

function isNativeError(e: unknown): e is NativeErrorShape {
  return typeof e === 'object' && e !== null && (e as { native?: unknown }).native === true;
}

/** Turns an error thrown by the addon into the typed error that names its cause and remedy. */
export function fromNativeError(e: unknown): unknown {
  if (!isNativeError(e)) return e;
  const syscall = e.syscall || undefined;
  const errno = e.code.startsWith('E') && !e.code.startsWith('EBGSNAP') ? e.code : undefined;
  const base = { syscall, errno, cause: e } as const;
  switch (e.code) {
    case 'EBGSNAP_RELEASED':
      return new TrackedMemoryReleasedError(e.message);
    case 'EBGSNAP_SAME_THREAD':
      return new SameThreadWriteError(e.message);
    case 'EBGSNAP_FEATURE':
      return new UffdUnsupportedError(e.message, {
        ...base,
        feature: 'UFFD_FEATURE_PAGEFAULT_FLAG_WP',
        remedy:
          'write-protect faults on anonymous memory need Linux >= 5.7 built with CONFIG_HAVE_ARCH_USERFAULTFD_WP (x86-64, arm64 >= 6.1)',
      });
    case 'EBGSNAP_FEATURE_SIGBUS':
      return new UffdUnsupportedError(e.message, {
        ...base,
        feature: 'UFFD_FEATURE_SIGBUS',
        remedy:
          'in-thread mode needs Linux >= 4.14 (UFFD_FEATURE_SIGBUS); use mode "copy-on-fault" on this kernel',
      });
    case 'EBGSNAP_LIMIT':
      return new UffdSyscallError(e.message, {
        ...base,
        remedy:
          'release the TrackedMemory of finished in-thread snapshots (their ranges stay known to the SIGBUS handler until unmapped), or use mode "copy-on-fault"',
      });
    case 'EBUSY':
      return new UffdSyscallError(
        e.message,
        { ...base, remedy: 'stop() the other fault source first' },
        'ALREADY_TRACKED',
      );
  }
  if (syscall === 'userfaultfd') {
    if (e.code === 'EPERM' || e.code === 'EACCES') {
      return new UffdPermissionError(
        `userfaultfd is not permitted for this process (${e.message}; ${describePermissions()})`,
        { ...base, remedy: PERMISSION_REMEDY },
      );
    }
    if (e.code === 'ENOSYS') {
      return new UffdUnsupportedError(`this kernel has no userfaultfd (${e.message})`, {
        ...base,
        remedy:
          'use a Linux >= 5.7 kernel built with CONFIG_USERFAULTFD; inside a container, allow the userfaultfd syscall in the seccomp profile',
      });
    }
  }
  if (syscall === 'ioctl(UFFDIO_API)' && e.code === 'EINVAL') {
    return new UffdUnsupportedError(`the kernel refused the userfaultfd API handshake (${e.message})`, {
      ...base,
      remedy:
        'write-protect tracking needs Linux >= 5.7 (>= 6.4 to protect untouched pages without pre-faulting)',
    });
  }
  if (syscall === 'ioctl(UFFDIO_REGISTER)' && e.code === 'EINVAL') {
    return new UffdUnsupportedError(`the kernel cannot write-protect this memory (${e.message})`, {
      ...base,
      remedy: 'anonymous private memory needs Linux >= 5.7; allocate it with TrackedMemory.allocate()',
    });
  }
  if (syscall === 'mmap' && e.code === 'ENOMEM') {
    return new UffdSyscallError(e.message, {
      ...base,
      remedy: 'the address space is exhausted: check `ulimit -v` and vm.max_map_count',
    });
  }
  return new UffdSyscallError(e.message, base);
}

/** Runs `fn`, rethrowing addon errors as typed errors. */
export function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNativeError(e);
  }
}
