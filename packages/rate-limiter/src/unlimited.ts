import { SCAN_UNLIMITED } from './constants.js';
import type { LimiterPolicy } from './types.js';
import { checkOptionNames } from './validate.js';

/**
 * No limit: the scan may always send as many pages as the save loop's batch allows, and never waits.
 * This is QEMU's behaviour without the patch (its `max-bandwidth` does not apply to background
 * snapshots). Takes no options; passing any is an error.
 *
 * @param options - Must be undefined or `{}`.
 * @returns A fresh policy named `unlimited`.
 * @throws {@link LimiterConfigError} for any option.
 *
 * @example
 * const policy = unlimited();
 * policy.decide(0, 0); // { scanPages: Number.MAX_SAFE_INTEGER, waitNs: 0 }
 */
export function unlimited(options?: Record<string, never>): LimiterPolicy {
  checkOptionNames('unlimited', options, []);
  return {
    name: 'unlimited',
    start() {},
    onFault() {},
    onScan() {},
    onSinkWrite() {},
    decide: () => ({ scanPages: SCAN_UNLIMITED, waitNs: 0 }),
  };
}
