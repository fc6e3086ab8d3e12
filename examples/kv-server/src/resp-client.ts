import { connect, type Socket } from 'node:net';
import { RespError, RespParser, type RespValue, resp } from './resp.js';

/**
 * A tiny pipelining RESP client: `send()` may be called many times without awaiting; replies resolve
 * in order. An error reply rejects with {@link RespError}.
 */
export class RespClient {
  readonly #parser = new RespParser();
  readonly #waiting: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.#parser.push(chunk);
      for (let v = this.#parser.next(); v !== undefined; v = this.#parser.next()) {
        const w = this.#waiting.shift();
        if (v instanceof RespError) w?.reject(v);
        else w?.resolve(v);
      }
    });
    const fail = (e: Error) => {
      for (const w of this.#waiting.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  /** Connects to `host:port`. */
  static connect(port: number, host = '127.0.0.1'): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new RespClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends one command; resolves with its reply. */
  send(...args: (Buffer | string | number)[]): Promise<RespValue> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.socket.write(resp.command(args));
    });
  }

  /** `INFO` as a map of its `field:value` lines. */
  async info(section = ''): Promise<Map<string, string>> {
    const text = String(await (section ? this.send('INFO', section) : this.send('INFO')));
    return new Map(
      text
        .split('\r\n')
        .filter((l) => l.includes(':'))
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
    );
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }
}
