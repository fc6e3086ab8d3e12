import { describe, expect, it } from 'vitest';
import { fmtSize } from './format.js';

describe('fmtSize', () => {
  it('picks the largest binary unit the value reaches', () => {
    expect(fmtSize(512)).toBe('512 B');
    expect(fmtSize(1032192)).toBe('1008 KiB');
    expect(fmtSize(3 * 2 ** 20 + 2 ** 19)).toBe('3.5 MiB');
    expect(fmtSize(2 ** 30)).toBe('1 GiB');
  });
});
