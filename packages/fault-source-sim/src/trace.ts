/** One recorded write: at `timeNs` (virtual, from the simulation's origin), CPU `cpu` wrote `page`. */
export interface TraceEntry {
  /** When the write happens, virtual ns from the simulation's origin. */
  readonly timeNs: number;
  /** Index of the CPU (in `cpus`) that writes; it must have the `trace` workload. */
  readonly cpu: number;
  /** Global page index: regions are numbered one after another in configuration order. */
  readonly page: number;
  /** 1-based line number in the trace text, for error messages. */
  readonly line: number;
}

/** A trace text that could not be parsed; lists every malformed line. */
export class TraceFormatError extends Error {
  /** One message per malformed line, each starting with `line N:`. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`malformed trace (${problems.length} problem(s)):\n  ${problems.join('\n  ')}`);
    this.name = 'TraceFormatError';
    this.problems = problems;
  }
}

const INTEGER = /^(0|[1-9][0-9]*)$/;

/**
 * Parses a write trace: one write per line, `time_ns cpu page` separated by spaces or tabs, all three
 * non-negative integers; `#` starts a comment (to the end of the line); blank lines are ignored.
 * Times must not decrease for the same CPU.
 *
 * ```text
 * # time_ns  cpu  page
 * 0          0    4096
 * 1500       1    17
 * 2000       0    4097
 * ```
 *
 * @returns the entries in file order.
 * @throws TraceFormatError listing every malformed line with its line number.
 */
export function parseTrace(text: string): TraceEntry[] {
  const out: TraceEntry[] = [];
  const problems: string[] = [];
  const lastTime = new Map<number, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const body = (lines[i] as string).replace(/#.*$/, '').trim();
    if (body === '') continue;
    const fields = body.split(/[ \t]+/);
    if (fields.length !== 3) {
      problems.push(`line ${line}: expected 3 fields 'time_ns cpu page', got ${fields.length}: '${body}'`);
      continue;
    }
    const bad = fields.findIndex((f) => !INTEGER.test(f) || !Number.isSafeInteger(Number(f)));
    if (bad >= 0) {
      const name = ['time_ns', 'cpu', 'page'][bad];
      problems.push(`line ${line}: ${name} must be a non-negative integer, got '${fields[bad]}'`);
      continue;
    }
    const [timeNs, cpu, page] = fields.map(Number) as [number, number, number];
    const prev = lastTime.get(cpu);
    if (prev !== undefined && timeNs < prev) {
      problems.push(`line ${line}: time_ns ${timeNs} goes backwards for cpu ${cpu} (previous ${prev})`);
      continue;
    }
    lastTime.set(cpu, timeNs);
    out.push({ timeNs, cpu, page, line });
  }
  if (problems.length > 0) throw new TraceFormatError(problems);
  return out;
}
