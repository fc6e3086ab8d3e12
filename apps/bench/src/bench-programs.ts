import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The path of `file` in the native package's `bench/` folder (its C programs that measure the machine),
 * or undefined when the package is not installed or does not ship the file.
 */
export function nativeBenchSource(file: string): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@bgsnap/fault-source-uffd/package.json');
    const path = join(dirname(pkg), 'bench', file);
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** A bench program's result: the first line of its output that is a JSON object, parsed. */
export interface ProgramJson {
  /** The line as printed, trimmed. */
  readonly line: string;
  readonly fields: Readonly<Record<string, unknown>>;
  /**
   * A finite number field.
   * @throws Error `<program> output lacks <key>` when it is missing or not a finite number.
   */
  num(key: string): number;
}

/** The JSON line a bench program printed, or undefined when it printed none. */
export function programJson(program: string, text: string): ProgramJson | undefined {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('{'));
  if (line === undefined) return undefined;
  const fields = JSON.parse(line) as Record<string, unknown>;
  return {
    line,
    fields,
    num(key) {
      const v = fields[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new Error(`${program} output lacks ${key}: ${line.slice(0, 200)}`);
      }
      return v;
    },
  };
}

/** Compiles one C file into `outDir/name` with the system C compiler (`$CC`, else `cc`); returns the binary's path. */
export async function compileC(source: string, outDir: string, name: string): Promise<string> {
  const bin = join(outDir, name);
  await run(process.env.CC ?? 'cc', ['-O2', '-pthread', source, '-o', bin]);
  return bin;
}
