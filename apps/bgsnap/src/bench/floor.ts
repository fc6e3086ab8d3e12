import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What the minimal C handler measured: write-fault latency with nothing but an unprotect per fault. */
export interface FloorResult {
  variant: 'sleep' | 'spin';
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

/** Parses the floor program's summary line. */
export function parseFloorOutput(text: string, variant: 'sleep' | 'spin'): FloorResult {
  const m = LINE.exec(text);
  if (!m) throw new Error(`unexpected uffd-floor output: ${text.trim()}`);
  return {
    variant,
    protectNs: Number(m[1]) * 1e6,
    faults: Number(m[2]),
    p50Ns: Number(m[3]) * 1e3,
    p99Ns: Number(m[4]) * 1e3,
    p999Ns: Number(m[5]) * 1e3,
    maxNs: Number(m[6]) * 1e3,
    raw: text.trim(),
  };
}

/** Runs the floor program over `mib` MiB for `faults` faults, its handler sleeping in poll(2) or spinning. */
export async function runFloor(
  bin: string,
  mib: number,
  faults: number,
  variant: 'sleep' | 'spin',
): Promise<FloorResult> {
  const env = { ...process.env };
  if (variant === 'spin') env.SPIN = '1';
  else delete env.SPIN;
  const { stdout } = await run(bin, [String(mib), String(faults)], { env, timeout: 120_000 });
  return parseFloorOutput(stdout, variant);
}
