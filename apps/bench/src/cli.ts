#!/usr/bin/env node
/**
 * The `bgsnap-bench` command line: the benchmark harness of bgsnap. Exit codes: 0 ok; 1 a run failed;
 * 2 bad input or usage (nothing measured).
 */
import { BadInputError, EXIT } from 'bgsnap';
import { Command, CommanderError } from 'commander';
import { defineBenchCommand } from './bench-command.js';

// Output is best-effort, as in the app's CLI: `bgsnap-bench --help | head` must not die of EPIPE, and a
// long run must not stop because its terminal went away.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

/** Runs the command body and maps its outcome (or error) to an exit code, with a one-line message. */
async function run(fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (error) {
    const e = error as Error;
    // Typed configuration errors of the packages are bad input too.
    const usage =
      error instanceof BadInputError ||
      /^(LimiterConfigError|UnknownLimiterError|SimConfigError|SnapshotArgumentError)$/.test(e?.name ?? '');
    process.exitCode = usage ? EXIT.usage : EXIT.failed;
    const text =
      error instanceof BadInputError ? e.message : `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
    process.stderr.write(`bgsnap-bench: ${text}\n`);
    if (process.env.BGSNAP_DEBUG) process.stderr.write(`${e?.stack}\n`);
  }
}

const program = defineBenchCommand(new Command('bgsnap-bench'), run)
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)');

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  const ok = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
  process.exitCode = ok ? EXIT.ok : EXIT.usage;
}
