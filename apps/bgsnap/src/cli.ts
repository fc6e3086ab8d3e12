#!/usr/bin/env node
/**
 * The `bgsnap` command line. Exit codes: 0 ok; 1 snapshot failed or verification found a problem;
 * 2 bad input or usage (nothing written); 130 interrupted (memory released, no output kept).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerDemo } from './commands/demo.js';
import { registerFileCommands } from './commands/file-commands.js';
import { registerRun } from './commands/run.js';
import { EXIT } from './commands/shared.js';
import { registerSim } from './commands/sim.js';
import { BadInputError, SnapshotAbortedError } from './errors.js';
import { terminalText } from './report/terminal-text.js';

// Progress lines and reports are best-effort output: a reader that went away (EPIPE on `| head`, a
// closed terminal) must never crash a snapshot midway. Errors of these streams are dropped; the
// command finishes, cleans up and exits with its own code.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

/** Runs a command body and maps its outcome (or error) to an exit code. */
async function run(fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (error) {
    process.exitCode = exitCodeOf(error);
    if (error instanceof SnapshotAbortedError || error instanceof BadInputError) {
      process.stderr.write(`bgsnap: ${terminalText(error.message)}\n`);
    } else {
      const e = error as Error;
      process.stderr.write(
        `bgsnap: ${terminalText(String(e?.name ?? 'Error'))}: ${terminalText(String(e?.message ?? error))}\n`,
      );
      if (process.env.BGSNAP_DEBUG) process.stderr.write(`${e?.stack}\n`);
    }
  }
}

function exitCodeOf(error: unknown): number {
  if (error instanceof SnapshotAbortedError) return EXIT.interrupted;
  if (error instanceof BadInputError) return EXIT.usage;
  const name = (error as Error | undefined)?.name ?? '';
  // Typed configuration errors of the other packages are bad input too.
  if (/^(LimiterConfigError|UnknownLimiterError|SimConfigError|SnapshotArgumentError)$/.test(name))
    return EXIT.usage;
  return EXIT.failed;
}

/**
 * The version of the installed package, read from its package.json at run time (dist/ and src/ are
 * both one level below it), so it cannot drift from what `npm ls bgsnap` reports.
 */
function ownVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const program = new Command('bgsnap');
program
  .version(ownVersion(), '-V, --version', 'print the bgsnap version and exit')
  .description(
    'Point-in-time snapshots of live memory while it is being written (QEMU background-snapshot style).',
  )
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText(
    'after',
    [
      '',
      'Exit codes: 0 ok; 1 snapshot failed or verification mismatch; 2 bad input or usage (nothing written); 130 interrupted.',
      '',
      'Outputs (run --out, sim --out, restore --out): an existing regular file is replaced only with --force;',
      'a device or FIFO is written into, never replaced (restore refuses it: it writes at offsets); a folder is',
      'refused. The output is verified before it is put in place.',
      '',
      'Signals (SIGINT, SIGTERM, SIGHUP): before the output is put in place a signal cancels (exit 130, nothing',
      'new under the output name); after, the command completes (exit 0). A second signal exits at once.',
    ].join('\n'),
  );
registerRun(program, run);
registerSim(program, run);
registerDemo(program, run);
registerFileCommands(program, run);
// The benchmark harness moved to its own package; point whoever still types `bgsnap bench` at it.
program
  .command('bench', { hidden: true })
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .action(() => {
    process.stderr.write(
      'bgsnap: `bgsnap bench` moved to `bgsnap-bench` (apps/bench); run `bgsnap-bench --help`\n',
    );
    process.exitCode = EXIT.usage;
  });

try {
  if (process.argv.length <= 2) {
    program.outputHelp({ error: true });
    process.exitCode = EXIT.usage;
  } else {
    await program.parseAsync(process.argv);
  }
} catch (error) {
  if (error instanceof CommanderError) {
    const ok = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
    process.exitCode = ok ? EXIT.ok : EXIT.usage;
  } else {
    throw error;
  }
}
