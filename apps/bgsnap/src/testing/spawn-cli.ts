/** Test support: runs the built CLI (`dist/cli.js`) as a user would, with hooks to signal it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI; the end-to-end tests skip when it is missing (build first). */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');

/** Whether the built CLI exists. */
export const cliBuilt = existsSync(CLI);

/** What a finished CLI process left. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, ms. */
  ms: number;
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  env?: Record<string, string>;
  uid?: number;
  gid?: number;
  /** Called with the child and the stderr seen so far, on every stderr chunk. */
  onStderr?: (child: ChildProcess, stderr: string) => void;
  /** Called right after spawn. */
  onSpawn?: (child: ChildProcess) => void;
}

/** Spawns `node dist/cli.js ...args` and resolves when it has exited. */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
      options.onStderr?.(child, stderr);
    });
    child.stdout!.on('error', () => {});
    child.stderr!.on('error', () => {});
    child.on('error', reject);
    options.onSpawn?.(child);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started }),
    );
  });
}

/** Files left in a folder by bgsnap's staging and sinks (hidden staging folders, `.partial`, probes). */
export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((f) => /\.partial$|\.bgsnap-|^bgsnap-/.test(f));
}
