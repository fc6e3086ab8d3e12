import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { compileC, nativeBenchSource, programJson } from './bench-programs.js';

const run = promisify(execFile);

/** What the minimal C handler measured: write-fault latency with nothing but an unprotect per fault. */
export interface FloorResult {
  variant: FloorVariant;
  /** Whether the region was backed by transparent huge pages (the native package's floor supports both). */
  thp: boolean;
  faults: number;
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  /** One UFFDIO_WRITEPROTECT over the whole populated region, ns. */
  protectNs: number;
  /** The load it ran under (the native package's program reports it; the reference tool has 1 writer, back to back). */
  load: FloorLoad;
  /** The program's output line. */
  raw: string;
}

/**
 * The floor program's handler: a C thread sleeping in poll(2) (`sleep`) or spinning (`spin`) on the
 * userfaultfd — the floor of the handler-thread modes — or no handler thread at all (`sigbus`): each
 * writer copies and releases its own page in a SIGBUS handler, the floor of in-thread mode.
 */
export type FloorVariant = 'sleep' | 'spin' | 'sigbus';

/**
 * The writers the floor program runs and what runs beside them. The classic floor is one writer faulting
 * back to back; the bench's own load is its writer count at its rate, paced the same way.
 */
export interface FloorLoad {
  /** Writer threads. */
  writers: number;
  /** Stores per second per writer; 0 = back to back. */
  rate: number;
  /** Threads spinning on the CPU meanwhile. */
  busy: number;
}

/** One writer, back to back, nothing beside it: the floor as the reference tool measures it. */
export const CLASSIC_FLOOR_LOAD: FloorLoad = { writers: 1, rate: 0, busy: 0 };

/**
 * Where the floor program's C source is: the native package's `bench/uffd-floor.c` when it ships one,
 * else the team's reference tool `../shared/tools/uffd-floor.c` beside the repository.
 */
export function findFloorSource(explicit?: string): string | undefined {
  if (explicit) return existsSync(explicit) ? resolve(explicit) : undefined;
  return (
    nativeBenchSource('uffd-floor.c') ??
    [
      resolve('..', 'shared', 'tools', 'uffd-floor.c'),
      resolve('..', '..', '..', 'shared', 'tools', 'uffd-floor.c'),
    ].find((c) => existsSync(c))
  );
}

/** Compiles the floor program into `outDir` with the system C compiler; returns the binary's path. */
export function compileFloor(source: string, outDir: string): Promise<string> {
  return compileC(source, outDir, 'uffd-floor');
}

const LINE =
  /protect ([\d.]+) ms.*?(\d+) faults: p50 ([\d.]+) us p99 ([\d.]+) us p999 ([\d.]+) us max ([\d.]+) us/;

/**
 * Parses the floor program's summary: the native package's JSON line (`{"p50":…,"p99":…}` in ns) or the
 * reference tool's text line (µs).
 */
export function parseFloorOutput(text: string, variant: FloorVariant, thp = false): FloorResult {
  const json = programJson('uffd-floor', text);
  if (json) {
    const { fields: j, num } = json;
    const handler = j.handler;
    if (typeof handler === 'string' && handler !== HANDLER_ARG[variant]) {
      throw new Error(`the floor program ran handler ${handler}, not ${HANDLER_ARG[variant]}`);
    }
    const opt = (k: string, fallback: number): number =>
      typeof j[k] === 'number' ? (j[k] as number) : fallback;
    return {
      variant,
      thp: j.thp === true,
      load: {
        writers: opt('writers', CLASSIC_FLOOR_LOAD.writers),
        rate: opt('rate', CLASSIC_FLOOR_LOAD.rate),
        busy: opt('busy', CLASSIC_FLOOR_LOAD.busy),
      },
      protectNs: num('protectNs'),
      faults: num('faults'),
      p50Ns: num('p50'),
      p99Ns: num('p99'),
      p999Ns: num('p999'),
      maxNs: num('max'),
      raw: json.line,
    };
  }
  const m = LINE.exec(text);
  if (!m) throw new Error(`unexpected uffd-floor output: ${text.trim()}`);
  if (variant === 'sigbus') {
    throw new Error(
      "the floor program has no sigbus handler (only the native package's bench/uffd-floor.c does)",
    );
  }
  return {
    variant,
    thp,
    load: { ...CLASSIC_FLOOR_LOAD },
    protectNs: Number(m[1]) * 1e6,
    faults: Number(m[2]),
    p50Ns: Number(m[3]) * 1e3,
    p99Ns: Number(m[4]) * 1e3,
    p999Ns: Number(m[5]) * 1e3,
    maxNs: Number(m[6]) * 1e3,
    raw: text.trim(),
  };
}

/** The floor program's handler argument per variant. */
const HANDLER_ARG: Record<FloorVariant, string> = { sleep: 'poll', spin: 'spin', sigbus: 'sigbus' };

/**
 * Runs the floor program over `mib` MiB for `faults` faults, its handler sleeping in poll(2) or spinning,
 * or each writer serving its own fault in a SIGBUS handler (`sigbus`, the package's program only),
 * on 4 KiB pages or THP, under `load` (default: the classic one writer, back to back). Both the
 * package's argument form (`<MiB> <faults> poll|spin thp|4k [writers rate busy]`) and the reference
 * tool's (`SPIN=1`) are given; each program ignores the other's.
 * @throws Error when the program fails, or reports a load other than the one asked for (the reference
 *   tool knows only the classic load).
 */
export async function runFloor(
  bin: string,
  mib: number,
  faults: number,
  variant: FloorVariant,
  thp = false,
  load: FloorLoad = CLASSIC_FLOOR_LOAD,
): Promise<FloorResult> {
  const env = { ...process.env };
  if (variant === 'spin') env.SPIN = '1';
  else delete env.SPIN;
  const classic = sameLoad(load, CLASSIC_FLOOR_LOAD);
  const args = [String(mib), String(faults), HANDLER_ARG[variant], thp ? 'thp' : '4k'];
  if (!classic) args.push(String(load.writers), String(load.rate), String(load.busy));
  const { stdout } = await run(bin, args, { env, timeout: 120_000 });
  const result = parseFloorOutput(stdout, variant, thp);
  if (!sameLoad(result.load, load)) {
    throw new Error(
      `the floor program ran ${loadText(result.load)}, not ${loadText(load)} (only the native package's bench/uffd-floor.c takes a load)`,
    );
  }
  return result;
}

function sameLoad(a: FloorLoad, b: FloorLoad): boolean {
  return a.writers === b.writers && a.rate === b.rate && a.busy === b.busy;
}

/** A load in words, for tables: `2 writers × 20000/s`, `1 writer, back to back, 1 busy thread`. */
export function loadText(l: FloorLoad): string {
  const writers = `${l.writers} writer${l.writers === 1 ? '' : 's'}${l.rate > 0 ? ` × ${l.rate}/s` : ', back to back'}`;
  return l.busy > 0 ? `${writers}, ${l.busy} busy thread${l.busy === 1 ? '' : 's'}` : writers;
}
