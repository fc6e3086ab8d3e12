import type { SnapshotCompression } from '@bgsnap/stream-writer';
import type { Command } from 'commander';
import { BadInputError } from '../errors.js';
import { DEFAULT_LIMITER, KNOWN_LIMITERS } from '../limiter-spec.js';
import type { SnapshotMode } from '../report/report.js';
import { SNAPSHOT_MODES } from '../snapshot.js';
import { type CheckedOutput, checkOutputTarget } from './output-target.js';
import { parseChoice, parseInteger } from './shared.js';

/** Raw (string) options every snapshotting command takes. */
export interface RawSnapshotOptions {
  out?: string;
  force?: boolean;
  limiter: string;
  /** Undefined when the command has no default and the user gave none. */
  mode?: string;
  compression: string;
  batchPages: string;
  quietBatchPages: string;
  json?: boolean;
  progress?: boolean;
  serveFaultsWhileDraining?: boolean;
}

/** The same, validated. */
export interface SnapshotCliOptions {
  /** The checked `--out` target (undefined: a temporary file). */
  out: CheckedOutput | undefined;
  limiter: string;
  /** The mode given (or the command's default); undefined: the command chooses (`run`: in-thread where supported). */
  mode: SnapshotMode | undefined;
  compression: SnapshotCompression;
  batchPages: number;
  quietBatchPages: number;
  json: boolean;
  quiet: boolean;
  serveFaultsWhileDraining: boolean;
}

/** How a command presents `--mode`: its help text and default (none: the command chooses). */
export interface ModeOption {
  help: string;
  default?: SnapshotMode;
}

/** Adds the shared snapshot options to a command. */
export function addSnapshotOptions(cmd: Command, mode: ModeOption): Command {
  return cmd
    .option(
      '--out <path>',
      'snapshot file to write (default: a file in a new temporary folder). An existing file is replaced only with --force; a device or FIFO is written into, never replaced; a folder is refused',
    )
    .option('--force', 'replace an existing regular file at --out')
    .option(
      '--limiter <spec>',
      `rate-limiting policy: ${KNOWN_LIMITERS.join(' | ')}, with options as name:key=value,... (e.g. threshold:latency=2ms), or the path of a module exporting a policy`,
      DEFAULT_LIMITER,
    )
    .option('--mode <mode>', mode.help, mode.default)
    .option('--compression <c>', 'none | zstd | zstd:<level>', 'none')
    .option('--batch-pages <n>', 'pages per linear-scan step (1..65536)', '64')
    .option(
      '--quiet-batch-pages <n>',
      'pages per linear-scan step while no write fault has come for 5 ms (1..65536; at most --batch-pages turns it off)',
      '512',
    )
    .option(
      '--serve-faults-while-draining',
      'keep servicing write faults while the sink is backed up (writers stop waiting for the sink; the buffer grows by the faulted pages)',
    )
    .option('--json', 'print the report as JSON on stdout')
    .option('--no-progress', 'no progress bar or progress lines on stderr');
}

function parseCompression(text: string): SnapshotCompression {
  if (text === 'none' || text === 'zstd') return text;
  const m = /^zstd:(-?\d+)$/.exec(text);
  if (m) {
    const level = Number(m[1]);
    if (level >= 1 && level <= 19) return { zstd: { level } };
  }
  throw new BadInputError('--compression', `must be none, zstd or zstd:<level 1..19>, got '${text}'`);
}

/** Validates the shared snapshot options (the output folder is probed, nothing is left behind). */
export function parseSnapshotOptions(raw: RawSnapshotOptions): SnapshotCliOptions {
  return {
    out:
      raw.out === undefined
        ? undefined
        : checkOutputTarget('--out', raw.out, { force: raw.force === true, allowSpecial: true }),
    limiter: raw.limiter,
    mode: raw.mode === undefined ? undefined : parseChoice('--mode', raw.mode, SNAPSHOT_MODES),
    compression: parseCompression(raw.compression),
    batchPages: parseInteger('--batch-pages', raw.batchPages, 1, 65536),
    quietBatchPages: parseInteger('--quiet-batch-pages', raw.quietBatchPages, 1, 65536),
    json: raw.json === true,
    quiet: raw.progress === false,
    serveFaultsWhileDraining: raw.serveFaultsWhileDraining === true,
  };
}

/**
 * Rejects a `key=value,...` profile that names a key twice (`bandwidth=1MB/s,bandwidth=2GB/s`): which
 * one would win is a guess, so it is bad input (exit 2) naming the key.
 */
export function checkUniqueKeys(option: string, items: readonly string[]): void {
  const seen = new Set<string>();
  for (const item of items.flatMap((i) => i.split(','))) {
    const key = item.split('=')[0]!.trim();
    if (key === '') continue;
    if (seen.has(key)) throw new BadInputError(option, `'${key}' is given more than once`);
    seen.add(key);
  }
}
