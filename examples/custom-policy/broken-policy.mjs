// A deliberately broken copy of writer-yield.mjs, to show what `node check.mjs` catches: its
// `start()` does not reset the state, so a policy reused for a second snapshot still "remembers"
// the faults of the first one and throttles a scan no writer is touching. The conformance suite's
// `restart` rule fails on it. Do not use it.
import createWriterYield from './writer-yield.mjs';

/** @param {Record<string, unknown>} [options] */
export default function createPolicy(options = {}) {
  const policy = createWriterYield(options);
  let started = false;
  const start = policy.start;
  return {
    ...policy,
    name: `broken-${policy.name}`,
    start(context) {
      if (!started) start(context); // BUG: only the first start() resets
      started = true;
    },
  };
}
