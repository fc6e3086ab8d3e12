import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from './shared.js';

/** The signals every command that writes a file handles. */
export const HANDLED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Cancellation of one command by SIGINT, SIGTERM or SIGHUP, with one honest outcome: until the
 * command {@link Interrupt.beginCommit}s its output, a signal cancels it (exit 130, nothing new under
 * the final name); from then on the output is being put in place and a signal no longer cancels.
 */
export interface Interrupt {
  /** Aborted by the first signal that arrives before the commit. */
  readonly signal: AbortSignal;
  /** Whether a signal cancelled the command (arrived before the commit). */
  interrupted(): boolean;
  /**
   * Registers a synchronous cleanup (remove staged files) that runs before a forced exit: a second
   * signal, or the first one in `immediate` mode.
   */
  onForcedExit(cleanup: () => void): void;
  /**
   * Starts putting the output in place. Returns false, and changes nothing, when a signal already
   * cancelled the command. Signal handlers run between events, never inside synchronous code, so a
   * caller that checks this and renames synchronously cannot be cut in between.
   */
  beginCommit(): boolean;
  /**
   * The output is in place and the command's outcome is `code`: a signal from now on exits with it
   * at once (the report is best-effort), rather than dying of the signal after a completed command.
   */
  endCommit(code: number): void;
  /** Removes the handlers, except after {@link endCommit}: they stay until the process exits. */
  dispose(): void;
}

/**
 * Installs the handlers. In `immediate` mode (commands with nothing to release, such as restore) the
 * first signal before the commit cleans up synchronously and exits 130 at once; otherwise it aborts
 * {@link Interrupt.signal} and a second signal cleans up synchronously and exits 130.
 */
export function interruptSignal(options: { immediate?: boolean } = {}): Interrupt {
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  let count = 0;
  let commit: 'none' | 'committing' | 'done' = 'none';
  let outcome: number = EXIT.ok;
  const forcedExit = (code: number): never => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        cleanup();
      } catch {
        // best effort: exiting anyway
      }
    }
    process.exit(code);
  };
  const handler = (sig: NodeJS.Signals): void => {
    count++;
    if (commit === 'done') forcedExit(outcome);
    if (commit === 'committing') {
      if (count > 1) forcedExit(EXIT.interrupted);
      process.stderr.write(
        `\nbgsnap: ${sig} received while the output is being put in place; finishing (again to stop at once)\n`,
      );
      return;
    }
    if (options.immediate || count > 1) {
      process.stderr.write(`\nbgsnap: ${sig} received: stopped, nothing was kept\n`);
      forcedExit(EXIT.interrupted);
    }
    process.stderr.write(
      `\nbgsnap: ${sig} received, cancelling (memory is released, no output is kept; again to stop at once)...\n`,
    );
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  for (const sig of HANDLED_SIGNALS) process.on(sig, handler);
  return {
    signal: controller.signal,
    interrupted: () => controller.signal.aborted,
    onForcedExit(cleanup) {
      cleanups.push(cleanup);
    },
    beginCommit() {
      if (controller.signal.aborted) return false;
      commit = 'committing';
      return true;
    },
    endCommit(code) {
      commit = 'done';
      outcome = code;
    },
    dispose() {
      if (commit === 'done') return;
      for (const sig of HANDLED_SIGNALS) process.off(sig, handler);
    },
  };
}

/**
 * TEST-ONLY hook: when `BGSNAP_TEST_PAUSE_AT` names `phase` (comma-separated list), writes
 * `bgsnap-test-paused:<phase>` on stderr and waits up to 20 s or until `signal` aborts, so tests can
 * deliver a signal at a known instant; with `BGSNAP_TEST_PAUSE_MS` it waits exactly that long, abort
 * or not (to land a second signal); with `BGSNAP_TEST_RESUME_FILE` it waits until that file exists
 * (up to 20 s), so a test can act at the pause and then let the command go on however loaded the
 * machine is. Without `BGSNAP_TEST_PAUSE_AT` it returns at once.
 */
export async function testPause(phase: string, signal?: AbortSignal): Promise<void> {
  const at = process.env.BGSNAP_TEST_PAUSE_AT;
  if (!at?.split(',').includes(phase)) return;
  process.stderr.write(`bgsnap-test-paused:${phase}\n`);
  const resumeFile = process.env.BGSNAP_TEST_RESUME_FILE;
  if (resumeFile) {
    for (let waited = 0; waited < 20_000 && !existsSync(resumeFile); waited += 10) await sleep(10);
    return;
  }
  const fixedMs = Number(process.env.BGSNAP_TEST_PAUSE_MS) || 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, fixedMs || 20_000);
    if (fixedMs) return;
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
