/**
 * Pluggable limiter policies for background snapshots: the QEMU patch's fault-latency throttle, a
 * token bucket, an adaptive latency-target controller, a most-restrictive combinator, and a registry
 * that builds any of them from a CLI spec such as `threshold:latency=5ms,pages=200`.
 * @packageDocumentation
 */
export { all, mostRestrictive } from './all.js';
export { MAX_WAIT_NS, SCAN_UNLIMITED } from './constants.js';
export { LimiterConfigError, PolicyOptionsError, UnknownLimiterError } from './errors.js';
export {
  LATENCY_CONTROLS,
  LATENCY_TARGET_OPTION_NAMES,
  type LatencyControl,
  type LatencyTargetOptions,
  latencyTarget,
} from './latency-target.js';
export { faultLatency, LATENCY_MEASURES, type LatencyMeasure } from './measure.js';
export {
  createPolicy,
  describeLimiters,
  LIMITER_POLICIES,
  type LimiterOptionKind,
  type LimiterOptionSchema,
  type LimiterPolicyInfo,
  limiterInfo,
  limiterNames,
  MODULE_MEMBER_PREFIXES,
  type ParsedLimiterSpec,
  parseLimiterSpec,
  parseLimiterSpecParts,
} from './registry.js';
export { qemuThreshold, THRESHOLD_OPTION_NAMES, type ThresholdOptions, threshold } from './threshold.js';
export {
  defaultBurstBytes,
  TOKEN_BUCKET_OPTION_NAMES,
  type TokenBucketOptions,
  tokenBucket,
} from './token-bucket.js';
export type { FaultObservation, LimiterContext, LimiterDecision, LimiterPolicy } from './types.js';
export { formatBytes, formatNs, parseBytes, parseDuration, parseRate } from './units.js';
export { unlimited } from './unlimited.js';
