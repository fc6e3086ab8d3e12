/**
 * Control characters that must not reach a terminal raw: C0 (escape sequences, carriage return,
 * newline), DEL, C1 (8-bit CSI and OSC), and the invisible direction and line controls that can
 * reorder or hide what is shown (bidi embeddings, overrides and isolates, marks, line/paragraph
 * separators, zero-width joiners are harmless and kept).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Makes text from a file or a user safe to print for people: every control character becomes a
 * visible escape (`\x1b`, `\u{202e}`), so a crafted region name cannot clear the screen, move the
 * cursor or start a fake line. Use it on every such field of human output; JSON output stays exact.
 */
export function terminalText(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.codePointAt(0)!;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
