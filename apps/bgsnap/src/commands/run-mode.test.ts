import { UffdUnsupportedError } from '@bgsnap/fault-source-uffd';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chooseRunMode, isMissingSigbus, probeInThread } from './run-mode.js';

const noSigbus = (): Promise<void> =>
  Promise.reject(new UffdUnsupportedError('no SIGBUS here', { feature: 'UFFD_FEATURE_SIGBUS' }));

describe('chooseRunMode', () => {
  it('keeps a mode that was asked for, without probing', async () => {
    const probe = vi.fn(noSigbus);
    expect(await chooseRunMode('plain', probe)).toEqual({ mode: 'plain' });
    expect(await chooseRunMode('in-thread', probe)).toEqual({ mode: 'in-thread' });
    expect(probe).not.toHaveBeenCalled();
  });

  it('defaults to in-thread where the probe succeeds', async () => {
    expect(await chooseRunMode(undefined, async () => {})).toEqual({ mode: 'in-thread' });
  });

  it('falls back to copy-on-fault, with a note naming the feature, where the kernel lacks SIGBUS', async () => {
    const choice = await chooseRunMode(undefined, noSigbus);
    expect(choice.mode).toBe('copy-on-fault');
    expect(choice.note).toMatch(/UFFD_FEATURE_SIGBUS.*no SIGBUS here.*using copy-on-fault/);
  });

  it('lets any other failure through: it is not a missing feature', async () => {
    const wp = new UffdUnsupportedError('no WP', { feature: 'UFFD_FEATURE_PAGEFAULT_FLAG_WP' });
    await expect(chooseRunMode(undefined, () => Promise.reject(wp))).rejects.toBe(wp);
    await expect(chooseRunMode(undefined, () => Promise.reject(new Error('EMFILE')))).rejects.toThrow(
      'EMFILE',
    );
  });
});

describe('probeInThread', () => {
  afterEach(() => {
    delete process.env.BGSNAP_TEST_NO_SIGBUS;
  });

  it('BGSNAP_TEST_NO_SIGBUS=1 fails it as a kernel without the feature would', async () => {
    process.env.BGSNAP_TEST_NO_SIGBUS = '1';
    const error = await probeInThread({} as never).catch((e: unknown) => e);
    expect(isMissingSigbus(error)).toBe(true);
  });

  it('frees its page even when the source cannot be opened', async () => {
    const release = vi.fn();
    const api = {
      TrackedMemory: { allocate: () => ({ release }) },
      createUffdFaultSource: () => {
        throw new Error('refused');
      },
    };
    await expect(probeInThread(api)).rejects.toThrow('refused');
    expect(release).toHaveBeenCalledOnce();
  });
});
