import { describe, expect, it } from 'vitest';
import { SnapshotAbortedError } from '../errors.js';
import { createAbortRace } from './abort-race.js';

describe('createAbortRace', () => {
  it('passes values and failures through while the signal stays quiet, however many races', async () => {
    const race = createAbortRace(new AbortController().signal);
    for (let i = 0; i < 1000; i++) await expect(race(Promise.resolve(i))).resolves.toBe(i);
    const boom = new Error('sink failed');
    await expect(race(Promise.reject(boom))).rejects.toBe(boom);
  });

  it('rejects every pending race at once when the signal aborts, and every later one', async () => {
    const controller = new AbortController();
    const race = createAbortRace(controller.signal);
    const never = new Promise<never>(() => {});
    const pending = [race(never), race(never)];
    controller.abort(new Error('^C'));
    for (const p of pending) await expect(p).rejects.toBeInstanceOf(SnapshotAbortedError);
    await expect(race(Promise.resolve(1))).rejects.toBeInstanceOf(SnapshotAbortedError);
  });

  it('a race that settled first keeps its value after a later abort', async () => {
    const controller = new AbortController();
    const race = createAbortRace(controller.signal);
    const settled = race(Promise.resolve('done'));
    await expect(settled).resolves.toBe('done');
    controller.abort();
    await expect(settled).resolves.toBe('done');
  });

  it('without a signal, returns the promise itself', () => {
    const p = Promise.resolve(3);
    expect(createAbortRace(undefined)(p)).toBe(p);
  });
});
