import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What the minimal C handler measured: write-fault latency with nothing but an unprotect per fault. */
export interface FloorResult {
  variant: 'sleep' | 'spin';
  /** Whether the region was backed by transparent huge pages (the native package's floor supports both). */
  thp: boolean;
  faults: number;
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  /** One UFFDIO_WRITEPROTECT over the whole populated region, ns. */
  protectNs: number;
  /** The program's output line. */
  raw: string;
}

/**
 * Where the floor program's C source is: the native package's `bench/uffd-floor.c` when it ships one,
 * else the team's reference tool `../shared/tools/uffd-floor.c` beside the repository.
 */
export function findFloorSource(explicit?: string): string | undefined {
  if (explicit) return existsSync(explicit) ? resolve(explicit) : undefined;
  const candidates: string[] = [];
  try {
    const pkg = createRequire(import.meta.url).resolve('@bgsnap/fault-source-uffd/package.json');
    const dir = dirname(pkg);
    candidates.push(
      join(dir, 'bench', 'uffd-floor.c'),
      resolve(dir, '..', '..', '..', 'shared', 'tools', 'uffd-floor.c'),
    );
  } catch {
    // the package is not installed: only the working-directory guess is left
  }
  candidates.push(
    resolve('..', 'shared', 'tools', 'uffd-floor.c'),
    resolve('..', '..', '..', 'shared', 'tools', 'uffd-floor.c'),
  );
  return candidates.find((c) => existsSync(c));
}

/** Compiles the floor program into `outDir` with the system C compiler; returns the binary's path. */
export async function compileFloor(source: string, outDir: string): Promise<string> {
  const bin = join(outDir, 'uffd-floor');
  await run(process.env.CC ?? 'cc', ['-O2', '-pthread', source, '-o', bin]);
  return bin;
}

const LINE =
  /protect ([\d.]+) ms.*?(\d+) faults: p50 ([\d.]+) us p99 ([\d.]+) us p999 ([\d.]+) us max ([\d.]+) us/;

/**
 * Parses the floor program's summary: the native package's JSON line (`{"p50":…,"p99":…}` in ns) or the
 * reference tool's text line (µs).
 */
export function parseFloorOutput(text: string, variant: 'sleep' | 'spin', thp = false): FloorResult {
  const jsonLine = text.split('\n').find((l) => l.trim().startsWith('{'));
  if (jsonLine) {
    const j = JSON.parse(jsonLine) as Record<string, unknown>;
    const num = (k: string): number => {
      const v = j[k];
      if (typeof v !== 'number') throw new Error(`uffd-floor output lacks ${k}: ${jsonLine}`);
      return v;
    };
    return {
      variant,
      thp: j.thp === true,
      protectNs: num('protectNs'),
      faults: num('faults'),
      p50Ns: num('p50'),
      p99Ns: num('p99'),
      p999Ns: num('p999'),
      maxNs: num('max'),
      raw: jsonLine.trim(),
    };
  }
  const m = LINE.exec(text);
  if (!m) throw new Error(`unexpected uffd-floor output: ${text.trim()}`);
  return {
    variant,
    thp,
    protectNs: Number(m[1]) * 1e6,
    faults: Number(m[2]),
    p50Ns: Number(m[3]) * 1e3,
    p99Ns: Number(m[4]) * 1e3,
    p999Ns: Number(m[5]) * 1e3,
    maxNs: Number(m[6]) * 1e3,
    raw: text.trim(),
  };
}

/**
 * Runs the floor program over `mib` MiB for `faults` faults, its handler sleeping in poll(2) or spinning,
 * on 4 KiB pages or THP. Both the package's argument form (`<MiB> <faults> poll|spin [thp]`) and the
 * reference tool's (`SPIN=1`) are given; each program ignores the other's.
 */
export async function runFloor(
  bin: string,
  mib: number,
  faults: number,
  variant: 'sleep' | 'spin',
  thp = false,
): Promise<FloorResult> {
  const env = { ...process.env };
  if (variant === 'spin') env.SPIN = '1';
  else delete env.SPIN;
  const args = [String(mib), String(faults), variant === 'spin' ? 'spin' : 'poll', ...(thp ? ['thp'] : [])];
  const { stdout } = await run(bin, args, { env, timeout: 120_000 });
  return parseFloorOutput(stdout, variant, thp);
}
