import { fromNativeError, type UffdError, UffdUnsupportedError } from './errors.js';
import { loadNative } from './native.js';

/** The result of {@link probeUffd}. */
export type UffdSupport =
  | {
      /** A write-protect userfaultfd can be opened here. */
      readonly available: true;
      /** How it was opened (see {@link UffdDetails.method}). */
      readonly method: string;
      /** Opened with `UFFD_USER_MODE_ONLY`. */
      readonly userModeOnly: boolean;
      /** The kernel's feature bits (`UFFD_FEATURE_*`). */
      readonly features: number;
      /** `UFFD_FEATURE_WP_UNPOPULATED` (Linux 6.4+): untouched pages are protected without pre-faulting. */
      readonly protectsUnpopulated: boolean;
      /** `UFFD_FEATURE_THREAD_ID`: fault events name the writer's thread. */
      readonly knowsThreadId: boolean;
    }
  | {
      /** Not available here. */
      readonly available: false;
      /** Why, with the remedy. */
      readonly error: UffdError;
    };

const WP = 1 << 0;
const THREAD_ID = 1 << 8;
const WP_UNPOPULATED = 1 << 13;

/** Checks, without throwing, whether this process can track writes with userfaultfd, and with which features. */
export function probeUffd(): UffdSupport {
  try {
    const p = loadNative().probe();
    if (!(p.available & WP)) {
      return {
        available: false,
        error: new UffdUnsupportedError('the kernel lacks UFFD_FEATURE_PAGEFAULT_FLAG_WP', {
          feature: 'UFFD_FEATURE_PAGEFAULT_FLAG_WP',
          remedy: 'write-protect faults on anonymous memory need Linux >= 5.7',
        }),
      };
    }
    return {
      available: true,
      method: p.method,
      userModeOnly: p.userModeOnly,
      features: p.available,
      protectsUnpopulated: (p.available & WP_UNPOPULATED) !== 0,
      knowsThreadId: (p.available & THREAD_ID) !== 0,
    };
  } catch (e) {
    return { available: false, error: fromNativeError(e) as UffdError };
  }
}
