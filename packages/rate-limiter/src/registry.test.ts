import { describe, expect, it } from 'vitest';
import { LimiterConfigError, UnknownLimiterError } from './errors.js';
import {
  createPolicy,
  describeLimiters,
  LIMITER_POLICIES,
  limiterNames,
  parseLimiterSpec,
  parseLimiterSpecParts,
} from './registry.js';
import { FakeLoop, trace } from './test-helpers.js';

function errorOf(f: () => unknown): LimiterConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof LimiterConfigError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('registry and spec parser', () => {
  it('parses name:key=value lists with human units into a working policy', () => {
    const p = parseLimiterSpec('threshold:latency=2ms,pages=3,poll=250us');
    expect(p.name).toBe('threshold(>2ms,3p,poll=250us)');
    const loop = new FakeLoop(p);
    loop.fault(2e6 + 1);
    expect(trace(loop.step(1))).toBe('W250000');
  });

  it('accepts JSON options, API names and aliases', () => {
    expect(parseLimiterSpec('latency-target:{"p99":"500us","control":"pi"}').name).toContain('p99<500us,pi');
    expect(parseLimiterSpec('qemu:{"latencyNs":1000000}').name).toBe('threshold(>1ms,200p,poll=5ms)');
    expect(parseLimiterSpec('bucket:rate=100MiB/s,burst=4MiB').name).toBe(
      'token-bucket(100MiB/s,burst=4MiB)',
    );
    expect(parseLimiterSpec('UNLIMITED').name).toBe('unlimited');
  });

  it('joins parts with + into all(...)', () => {
    const p = parseLimiterSpec('threshold+token-bucket:rate=1GiB/s,burst=8MiB');
    expect(p.name).toBe('all(threshold(>5ms,200p,poll=5ms),token-bucket(1GiB/s,burst=8MiB))');
    expect(parseLimiterSpecParts('a:{"x":"1+2"}+b')).toEqual([
      { name: 'a', options: { x: '1+2' } },
      { name: 'b', options: {} },
    ]);
  });

  it('createPolicy takes API units as numbers', () => {
    const p = createPolicy('token-bucket', { bytesPerSecond: 1e6, burstBytes: 4096 });
    expect(new FakeLoop(p).decide()).toEqual({ scanPages: 1, waitNs: 0 });
  });

  it('an unknown name lists the known ones', () => {
    const e = errorOf(() => parseLimiterSpec('fancy:x=1'));
    expect(e).toBeInstanceOf(UnknownLimiterError);
    expect(e.option).toBe('name');
    expect((e as UnknownLimiterError).known).toEqual([
      'unlimited',
      'threshold',
      'token-bucket',
      'latency-target',
    ]);
    expect(e.message).toContain('threshold');
  });

  it.each([
    ['threshold:latency=fast', 'latency'],
    ['threshold:latency=-5ms', 'latency'],
    ['threshold:pages=many', 'pages'],
    ['threshold:speed=1', 'speed'],
    ['threshold:latency', 'latency'],
    ['threshold:latency=1ms,latency=2ms', 'latency'],
    ['threshold:latency=1ms,latencyNs=2ms', 'latencyNs'],
    ['token-bucket:burst=4MiB', 'bytesPerSecond'],
    ['token-bucket:rate=0,burst=1MiB', 'bytesPerSecond'],
    ['token-bucket:rate=1MiB/s,burst=0', 'burstBytes'],
    ['token-bucket:rate=1MiB/s,burst=1MiB,charge-faults=maybe', 'charge-faults'],
    ['latency-target:control=fuzzy', 'control'],
    ['latency-target:min-queue=8MiB', 'minQueueBytes'],
    ['unlimited:x=1', 'x'],
    ['threshold:{bad json', 'spec'],
    ['', 'spec'],
    ['+threshold', 'spec'],
  ])('%j → error naming %s', (spec, option) => {
    expect(errorOf(() => parseLimiterSpec(spec)).option).toBe(option);
  });

  it('every built-in has a schema whose defaults parse, and the help text lists them all', () => {
    const help = describeLimiters();
    for (const info of LIMITER_POLICIES) {
      expect(help).toContain(info.name);
      for (const o of info.options) {
        expect(help).toContain(`${o.keys[0]}=`);
        expect(o.keys).toContain(o.name);
      }
    }
    expect(limiterNames()).toContain('qemu');
  });
});
