/** A target's outcome. `pass` is undefined when it could not be measured. */
export interface Verdict {
  target: string;
  goal: string;
  measured: string;
  pass: boolean | undefined;
}

/** `PASS`, `MISS`, or `–` when not measured. */
export const passText = (p: boolean | undefined): string => (p === undefined ? '–' : p ? 'PASS' : 'MISS');

/** `a / b` as `0.83×`, or `–` when `b` is 0 or missing. */
export const ratioText = (a: number, b: number | undefined): string => (b ? `${(a / b).toFixed(2)}×` : '–');
