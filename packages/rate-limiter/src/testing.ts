/**
 * @bgsnap/rate-limiter/testing: Pluggable limiter policies for background snapshots: the QEMU patch's throttle, a token bucket, an adaptive latency target, and combinators.
 * @packageDocumentation
 */
export {};
