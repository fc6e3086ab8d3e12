// Receives one snapshot over TCP, verifies it as it arrives, and writes the memory image:
//   node receiver.mjs [--host 127.0.0.1] [--port 9000] [--out image.bin]
// Prints "listening on <host>:<port>" (with --port 0 the system picks the port), then one verdict:
// "valid: ..." (exit 0) or "invalid: ..." (exit 1). Without --out it only verifies.
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { restoreSnapshotToFile, verifySnapshot } from '@bgsnap/stream-writer';

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '9000' },
      out: { type: 'string' },
    },
  }));
  if (!/^\d+$/.test(args.port) || Number(args.port) > 65535)
    throw new Error(`--port: expected 0..65535, got '${args.port}'`);
} catch (error) {
  console.error(`receiver: ${error.message}`);
  process.exit(2);
}

/** Reads the whole stream from `socket`; resolves with a one-line verdict and whether it is valid. */
async function receive(socket) {
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  if (args.out) {
    try {
      // The image is written under a temporary name and renamed to --out only once the stream's
      // trailer and whole CRC chain checked out: an invalid or cut-off stream leaves no image.
      const image = await restoreSnapshotToFile(socket, args.out);
      const { pageCount, zeroPageCount } = image.trailer;
      return {
        ok: true,
        line: `valid: ${pageCount} pages (${zeroPageCount} zero) from ${peer}, image ${args.out} (${image.bytes} bytes)`,
      };
    } catch (error) {
      return { ok: false, line: `invalid: ${error.message} (from ${peer}; no image written)` };
    }
  }
  const report = await verifySnapshot(socket); // never throws for bad data: the verdict is in the report
  if (!report.ok) return { ok: false, line: `invalid: ${report.error?.message} (from ${peer})` };
  return {
    ok: true,
    line: `valid: ${report.trailer.pageCount} pages (${report.trailer.zeroPageCount} zero) from ${peer}`,
  };
}

const server = createServer({ allowHalfOpen: true }, async (socket) => {
  server.close(); // one snapshot per run
  socket.on('error', () => {}); // a reset shows up as a truncated stream in the verdict
  const verdict = await receive(socket);
  // Closing our side tells the sender that everything arrived (its tcp sink waits for this).
  if (verdict.ok) socket.end();
  else socket.destroy();
  console.log(verdict.line);
  process.exitCode = verdict.ok ? 0 : 1;
});
server.on('error', (error) => {
  console.error(`receiver: cannot listen on ${args.host}:${args.port}: ${error.message}`);
  process.exitCode = 2;
});
server.listen(Number(args.port), args.host, () => {
  const { address, port } = server.address();
  console.log(`listening on ${address}:${port}`);
});
