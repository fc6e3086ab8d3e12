/**
 * @bgsnap/rate-limiter/testing: the policy conformance suite (vitest and plain functions) and the
 * synthetic latency model for evaluating policies.
 * @packageDocumentation
 */
export {
  type LatencyModelOptions,
  type LatencyModelResult,
  runLatencyModel,
  type StallProfile,
} from './latency-model.js';
