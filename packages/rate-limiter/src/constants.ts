/**
 * `scanPages` of a decision that sets no limit: the largest safe integer. The save loop caps it to its
 * own batch size.
 */
export const SCAN_UNLIMITED: number = Number.MAX_SAFE_INTEGER;

/**
 * The longest wait any built-in policy asks for (1 s), and the bound the conformance suite enforces by
 * default. A policy that wants to hold the scan longer asks again after each wait.
 */
export const MAX_WAIT_NS = 1e9;

/** One millisecond in nanoseconds. */
export const MS = 1e6;
