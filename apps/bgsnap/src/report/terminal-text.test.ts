import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { terminalText } from './terminal-text.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

describe('terminalText', () => {
  it('leaves no control character, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(terminalText(s)).not.toMatch(CONTROL);
      }),
    );
  });

  it('changes nothing in text without control characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        fc.pre(!CONTROL.test(s));
        expect(terminalText(s)).toBe(s);
      }),
    );
  });

  it('shows what it escaped', () => {
    expect(terminalText('a\x1b[2J\nb\u202ec\x9b')).toBe('a\\x1b[2J\\x0ab\\u{202e}c\\x9b');
  });
});
