import { closeSync, fstatSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatBytes, parseCountRate, parseSize as parseUnitsSize, UnitParseError } from '@bgsnap/units';
import cliProgress from 'cli-progress';
import { BadInputError } from '../errors.js';
import { formatSize } from '../report/format-report.js';
import type { SnapshotProgress } from '../save-loop/types.js';

/** Exit codes of every `bgsnap` command. */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** The snapshot failed, or verification found a mismatch / an invalid stream. */
  failed: 1,
  /** Bad input or usage: nothing was written. */
  usage: 2,
  /** Interrupted (SIGINT, SIGTERM, SIGHUP): memory released, nothing new under the output name. */
  interrupted: 130,
} as const;

/**
 * Parses a size with `@bgsnap/units`' grammar (`64MiB`, `64M`, `1GiB`, `1TiB`, `1GB`, `4096` bytes)
 * within `[min, max]` and a multiple of `multiple`.
 * @throws BadInputError naming `option`, with the units error's words.
 */
export function parseSize(option: string, text: string, min: number, max: number, multiple = 1): number {
  const bytes = asBadInput(option, () => parseUnitsSize(text, { what: option, min, max }));
  if (bytes % multiple !== 0) {
    throw new BadInputError(option, `must be a multiple of ${formatBytes(multiple)}, got '${text}'`);
  }
  return bytes;
}

/** Runs a `@bgsnap/units` parser, turning its typed error into a BadInputError for `option` (exit 2). */
function asBadInput<T>(option: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof UnitParseError)) throw error;
    throw new BadInputError(option, `expected ${error.expected}, got '${error.input}'`);
  }
}

/** Parses an integer in `[min, max]`. */
export function parseInteger(option: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new BadInputError(option, `must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return n;
}

/**
 * Parses a count per second with `@bgsnap/units`' grammar (`20000`, `20k`, `1.5M`, `20k/s`; `k`, `M`,
 * `G` are 1000-based) within `[0, max]`, rounded to a whole count.
 * @throws BadInputError naming `option`.
 */
export function parsePerSecond(option: string, text: string, max: number): number {
  return Math.round(asBadInput(option, () => parseCountRate(text, { what: option, max })));
}

/** Checks a choice. */
export function parseChoice<T extends string>(option: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new BadInputError(option, `must be one of ${choices.join(', ')}, got '${text}'`);
  }
  return text as T;
}

/** Checks that an input file exists, is a regular file and can be opened for reading (exit 2 if not). */
export function checkInputFile(option: string, path: string): string {
  const full = resolve(path);
  let fd: number;
  try {
    fd = openSync(full, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : (code ?? (error as Error).message);
    throw new BadInputError(option, `cannot read ${full}: ${why}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new BadInputError(option, `cannot read ${full}: not a regular file`);
  } finally {
    closeSync(fd);
  }
  return full;
}

/** Shows progress: a bar on a TTY, a plain line at most every second otherwise, nothing when quiet. */
export interface ProgressDisplay {
  update(progress: SnapshotProgress): void;
  stop(): void;
}

/** Creates the progress display for stderr. */
export function createProgressDisplay(options: {
  quiet: boolean;
  stream?: NodeJS.WriteStream;
}): ProgressDisplay {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { update() {}, stop() {} };
  const startedAt = performance.now();
  const rateOf = (p: SnapshotProgress): number => {
    const s = (performance.now() - startedAt) / 1e3;
    return s > 0 ? p.savedBytes / s : 0;
  };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: ' {bar} {percentage}% | {saved} of {size} | {rate}/s | ETA {eta_formatted} | {faults} faults',
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        const payload = {
          saved: formatSize(p.savedBytes),
          size: formatSize(p.totalBytes),
          rate: formatSize(rateOf(p)),
          faults: p.pagesFaulted,
        };
        if (!started) {
          bar.start(p.totalBytes, p.savedBytes, payload);
          started = true;
        } else bar.update(p.savedBytes, payload);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let lastLine = Number.NEGATIVE_INFINITY;
  return {
    update(p) {
      const now = performance.now();
      if (now - lastLine < 1000 && p.savedPages !== p.totalPages) return;
      lastLine = now;
      const pct = p.totalPages > 0 ? ((100 * p.savedPages) / p.totalPages).toFixed(1) : '100.0';
      stream.write(
        `progress ${pct}% ${formatSize(p.savedBytes)} of ${formatSize(p.totalBytes)}, ${formatSize(rateOf(p))}/s, ${p.pagesFaulted} faulted pages\n`,
      );
    },
    stop() {},
  };
}
