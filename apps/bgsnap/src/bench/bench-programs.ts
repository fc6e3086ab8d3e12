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

/** Compiles one C file into `outDir/name` with the system C compiler (`$CC`, else `cc`); returns the binary's path. */
export async function compileC(source: string, outDir: string, name: string): Promise<string> {
  const bin = join(outDir, name);
  await run(process.env.CC ?? 'cc', ['-O2', '-pthread', source, '-o', bin]);
  return bin;
}
