import { describe, expect, it } from 'vitest';
import { describeFaultSourceConformance, runFaultSourceConformance } from '../testing.js';
import { type FakeBug, fakeHarness } from './fake-backend.test-helper.js';

// The suite as a backend author uses it, against a correct fake in both modes.
describeFaultSourceConformance('correct fake (plain)', fakeHarness('none', false));
describeFaultSourceConformance('correct fake (copy-on-fault)', fakeHarness('none', true));
// The contract lets copy-on-fault contents live only until the next take; the suite must not read them later.
describeFaultSourceConformance(
  'correct fake (copy-on-fault, contents in a buffer each take overwrites)',
  fakeHarness('none', true, true),
);

// Each deliberate contract violation must make the check that targets it fail.
const mutants: [FakeBug, boolean, string][] = [
  ['no-block', false, 'write-blocks-until-release'],
  ['plain-claim-short', false, 'plain-claim-all'],
  ['write-before-block', false, 'write-blocks-until-release'],
  ['write-before-block', false, 'save-race'],
  ['refault', false, 'released-never-faults'],
  ['read-faults', false, 'reads-never-fault'],
  ['stop-keeps-writers', false, 'stop-releases-writers'],
  ['stop-keeps-writers', true, 'stop-releases-writers'],
  ['stop-not-idempotent', false, 'lifecycle'],
  ['start-twice-ok', false, 'lifecycle'],
  ['stop-before-start-throws', false, 'stop-before-start'],
  ['wait-ignores-stop', false, 'wait-resolves-on-stop'],
  ['wait-no-wake', false, 'wait-wakes-on-fault'],
  ['out-of-range', false, 'events-in-range'],
  ['no-state-error-before-start', false, 'state-before-start'],
  ['no-state-error-after-stop', false, 'state-after-stop'],
  ['no-range-error', false, 'argument-validation'],
  ['range-error-unnamed', false, 'argument-validation'],
  ['timeout-early', false, 'wait-timeout'],
  ['take-ignores-max', false, 'take-faults'],
  ['lose-events', true, 'save-race'],
  ['cof-delivers-claimed', true, 'cof-claimed-not-delivered'],
  ['cof-claim-ignores-owned', true, 'cof-claim-stops'],
  ['cof-claim-ignores-owned', true, 'save-race'],
  ['cof-double', true, 'save-race'],
  ['cof-late-copy', true, 'cof-contents'],
  ['cof-late-copy', true, 'save-race'],
];

describe('the conformance suite catches broken backends', () => {
  it.each(mutants)('bug %s (copy-on-fault: %s) fails check %s', async (bug, cof, id) => {
    const [result] = await runFaultSourceConformance(fakeHarness(bug, cof), { only: [id] });
    expect(result?.status, `check ${id} should fail`).toBe('failed');
    expect(result?.error).toBeInstanceOf(Error);
  });

  it('every check is targeted by at least one mutant', () => {
    const targeted = new Set(mutants.map((m) => m[2]));
    const untargeted: string[] = [];
    return runFaultSourceConformance(fakeHarness('none', false)).then((results) => {
      for (const r of results) if (!untargeted.includes(r.id)) expect(targeted.has(r.id), r.id).toBe(true);
    });
  });

  it('rejects an unknown check id instead of silently running nothing', async () => {
    await expect(
      runFaultSourceConformance(fakeHarness('none', false), { only: ['no-such-check'] }),
    ).rejects.toThrow(/unknown conformance check id 'no-such-check'/);
  });
});
