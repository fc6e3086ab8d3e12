import { inspectSnapshot, restoreSnapshotToFile, verifySnapshot } from '@bgsnap/stream-writer';
import type { Command } from 'commander';
import { formatSize } from '../report/format-report.js';
import { terminalText } from '../report/terminal-text.js';
import { testPause } from './interrupt.js';
import { checkOutputTarget, stageWithInterrupt } from './output-target.js';
import { checkInputFile, EXIT } from './shared.js';

type StreamReport = Awaited<ReturnType<typeof verifySnapshot>>;

/** A JSON-friendly view of the stream-writer's report (bigints become strings). */
function toJson(report: StreamReport): unknown {
  return {
    ok: report.ok,
    error: report.error ? { name: report.error.name, message: report.error.message } : undefined,
    header: report.header
      ? {
          version: report.header.version,
          createdAt: new Date(Number(report.header.createdAtNs / 1_000_000n)).toISOString(),
          writerId: report.header.writerId,
          regions: report.header.regions,
        }
      : undefined,
    trailer: report.trailer,
    regions: report.regions,
    records: report.records,
    bytesRead: report.bytesRead,
  };
}

function describe(report: StreamReport, path: string): string {
  const lines = [`${terminalText(path)}: ${report.ok ? 'valid, complete snapshot' : 'INVALID'}`];
  if (report.error) lines.push(`  error: ${terminalText(report.error.message)}`);
  const h = report.header;
  if (h) {
    lines.push(
      `  format v${h.version}, written by ${h.writerId ? terminalText(h.writerId) : '(unknown)'} at ${new Date(Number(h.createdAtNs / 1_000_000n)).toISOString()}`,
    );
  }
  for (const r of report.regions) {
    lines.push(
      `  region ${terminalText(r.name)}: ${r.pageCount} pages of ${r.pageSize} B (${formatSize(r.pageCount * r.pageSize)}); ` +
        `${r.pagesSeen} seen, ${r.zeroPages} zero, ${r.compressedPages} compressed, ${formatSize(r.storedBytes)} stored in ${r.records} records`,
    );
  }
  if (report.trailer) {
    lines.push(
      `  trailer: ${report.trailer.pageCount} pages, ${report.trailer.zeroPageCount} zero, crc32 ${report.trailer.crc.toString(16).padStart(8, '0')}`,
    );
  }
  lines.push(`  ${formatSize(report.bytesRead)} read`);
  return lines.join('\n');
}

/** Registers `bgsnap verify`, `bgsnap inspect` and `bgsnap restore`. */
export function registerFileCommands(
  program: Command,
  run: (fn: () => Promise<number>) => Promise<void>,
): void {
  program
    .command('verify')
    .description(
      'Check a snapshot file: structure, checksums, completeness (every page exactly once). Exit 1 if invalid.',
    )
    .argument('<file>', 'snapshot file')
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: { json?: boolean }) =>
      run(async () => {
        const path = checkInputFile('<file>', file);
        const report = await verifySnapshot(path);
        process.stdout.write(
          `${opts.json ? JSON.stringify(toJson(report), null, 2) : describe(report, path)}\n`,
        );
        return report.ok ? EXIT.ok : EXIT.failed;
      }),
    );

  program
    .command('inspect')
    .description(
      'Show a snapshot file’s header, region table and page counts. Exit 1 if the file is invalid.',
    )
    .argument('<file>', 'snapshot file')
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: { json?: boolean }) =>
      run(async () => {
        const path = checkInputFile('<file>', file);
        const report = await inspectSnapshot(path);
        process.stdout.write(
          `${opts.json ? JSON.stringify(toJson(report), null, 2) : describe(report, path)}\n`,
        );
        return report.ok ? EXIT.ok : EXIT.failed;
      }),
    );

  program
    .command('restore')
    .description(
      'Restore a snapshot into a raw image file (regions one after another). Exit 1 if the snapshot is invalid.',
    )
    .argument('<file>', 'snapshot file')
    .requiredOption(
      '--out <image>',
      'raw image file to write (created 0600; nothing is left on failure or interruption). An existing file is replaced only with --force; devices, FIFOs and folders are refused (the image is written at offsets)',
    )
    .option('--force', 'replace an existing regular image file')
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: { out: string; force?: boolean; json?: boolean }) =>
      run(async () => {
        const path = checkInputFile('<file>', file);
        const checked = checkOutputTarget('--out', opts.out, {
          force: opts.force === true,
          allowSpecial: false,
        });
        const out = checked.path;
        // Nothing to release: the first signal removes what is staged and exits 130 at once.
        const { interrupt, staged } = stageWithInterrupt(checked, 'image', { immediate: true });
        let image: Awaited<ReturnType<typeof restoreSnapshotToFile>>;
        try {
          await testPause('restore');
          image = await restoreSnapshotToFile(path, staged.path);
          await testPause('restore-commit');
          interrupt.beginCommit();
          await staged.commit();
          interrupt.endCommit(EXIT.ok);
        } finally {
          staged.discard();
          interrupt.dispose();
        }
        const result = {
          ok: true,
          image: out,
          bytes: image.bytes,
          regions: image.header.regions.map((r, i) => ({ ...r, offset: image.regionOffsets[i] })),
        };
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(result, null, 2)}\n`
            : `restored ${formatSize(image.bytes)} into ${terminalText(out)}\n${result.regions.map((r) => `  region ${terminalText(r.name)} at offset ${r.offset}`).join('\n')}\n`,
        );
        return EXIT.ok;
      }),
    );
}
