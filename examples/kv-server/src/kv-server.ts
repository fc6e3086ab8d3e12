import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { type SnapshotOptions, type SnapshotReport, snapshot } from 'bgsnap';
import { RespParser, resp } from './resp.js';
import { StoreError, ValueStore } from './value-store.js';

/** Options of {@link KvServer}. */
export interface KvServerOptions {
  /** Bytes of tracked memory for values (`sizeBytes / slotBytes` keys at most). */
  sizeBytes: number;
  /** Largest value and slot size (default 4096). */
  slotBytes?: number;
  /** Folder of the snapshot file `dump.bgsnap` (default: the current folder). */
  dir?: string;
  /** Default bgsnap mode of BGSAVE: `plain`, `copy-on-fault`, or any mode the installed backend knows. */
  mode?: string;
  /** Default limiter spec of BGSAVE (default: bgsnap's default policy). */
  limiter?: string;
}

/** The last save as `INFO persistence` shows it. Times are ms since the epoch (fractional). */
export interface SaveState {
  inProgress: boolean;
  /** When memory was write-protected: every write after this is inside the save. */
  startedMs: number;
  endedMs: number;
  status: 'ok' | 'err' | 'none';
  error: string;
  mode: string;
  limiter: string;
  report: SnapshotReport | undefined;
}

type Reply = Buffer | Promise<Buffer>;
const nowMs = () => performance.timeOrigin + performance.now();
const OK = resp.simple('OK');
const ARITY: Record<string, number> = { SET: 3, GET: 2, DEL: 2, CONFIG: 2 };

/**
 * A single-threaded RESP server (SET/GET/DEL/PING/DBSIZE/FLUSHALL/CONFIG GET/INFO/BGSAVE/SAVE/LASTSAVE)
 * whose values live in tracked memory. Every SET is a write by the event loop; `BGSAVE` snapshots the
 * memory to a file with bgsnap while the server keeps serving (the save loop runs in a worker thread).
 */
export class KvServer {
  /** The values. */
  readonly store: ValueStore;
  /** The last save (or the one in progress). */
  readonly save: SaveState = {
    inProgress: false,
    startedMs: 0,
    endedMs: 0,
    status: 'none',
    error: '',
    mode: '',
    limiter: '',
    report: undefined,
  };
  readonly #net: Server;
  /** Each open connection and its command loop. */
  readonly #connections = new Map<Socket, () => void>();
  #paused = false;
  #saving: Promise<void> | undefined;

  constructor(private readonly options: KvServerOptions) {
    this.store = new ValueStore(options.sizeBytes, options.slotBytes);
    this.#net = createServer((socket) => this.#serve(socket));
  }

  /** Listens on `port` (0: any free one) and returns the port. */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#net.once('error', reject);
      this.#net.listen(port, host, () => {
        const address = this.#net.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /** Stops listening, closes every connection, waits for a save in progress, releases the memory. */
  async close(): Promise<void> {
    for (const s of this.#connections.keys()) s.destroy();
    await new Promise<void>((r) => this.#net.close(() => r()));
    await this.#saving;
    this.store.release();
  }

  #serve(socket: Socket): void {
    const parser = new RespParser(true);
    let busy = false; // a reply is pending: later commands wait, so replies keep their order
    const run = () => {
      while (!busy && !this.#paused) {
        let command: ReturnType<RespParser['next']>;
        try {
          command = parser.next();
        } catch (e) {
          socket.end(resp.error((e as Error).message));
          return;
        }
        if (command === undefined) return;
        let reply: Reply | null;
        try {
          reply = Array.isArray(command) ? this.#execute(command as Buffer[], socket) : null;
        } catch (e) {
          reply = resp.error(e instanceof StoreError ? e.message : `ERR ${(e as Error).message}`);
        }
        if (reply instanceof Promise) {
          busy = true;
          void reply.then((r) => {
            busy = false;
            socket.write(r);
            run();
          });
        } else if (reply) socket.write(reply);
      }
    };
    this.#connections.set(socket, run);
    socket.on('data', (chunk) => {
      parser.push(chunk); // copied from here into tracked memory, never read into it (see README)
      run();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#connections.delete(socket));
  }

  #execute(args: Buffer[], socket: Socket): Reply | null {
    const name = args[0]?.toString('latin1').toUpperCase() ?? '';
    const key = args[1]?.toString('latin1') ?? '';
    if (args.length < (ARITY[name] ?? 1)) return resp.error(`ERR wrong number of arguments for '${name}'`);
    switch (name) {
      case 'PING':
        return args[1] ? resp.bulk(args[1]) : resp.simple('PONG');
      case 'SET':
        this.store.set(key, args[2]!); // options such as EX are ignored
        return OK;
      case 'GET':
        return resp.bulk(this.store.get(key));
      case 'DEL':
        return resp.integer(args.slice(1).filter((k) => this.store.delete(k.toString('latin1'))).length);
      case 'DBSIZE':
        return resp.integer(this.store.size);
      case 'FLUSHALL':
      case 'FLUSHDB':
        this.store.clear();
        return OK;
      case 'CONFIG': // redis-benchmark asks for `save` and `appendonly` first
        if (key.toUpperCase() !== 'GET') return OK;
        return resp.array(
          Object.entries({ save: '', appendonly: 'no' })
            .filter(([k]) => k === args[2]?.toString('latin1') || args[2]?.toString('latin1') === '*')
            .flatMap(([k, v]) => [resp.bulk(k), resp.bulk(v)]),
        );
      case 'SELECT':
      case 'CLIENT':
        return OK;
      case 'COMMAND':
        return resp.array([]);
      case 'INFO':
        return resp.bulk(this.#info());
      case 'LASTSAVE':
        return resp.integer(Math.floor(this.save.endedMs / 1000));
      case 'BGSAVE':
      case 'SAVE':
        return this.#startSave(args.slice(1), name === 'SAVE');
      case 'QUIT':
        socket.end(OK);
        return null;
      default:
        return resp.error(`ERR unknown command '${name}'`);
    }
  }

  /**
   * `BGSAVE [MODE m] [LIMITER spec]`: replies once memory is write-protected (so every request sent
   * after the reply is inside the save); `SAVE` replies when the file is complete.
   */
  #startSave(args: Buffer[], wait: boolean): Reply {
    if (this.#saving) return resp.error('ERR Background save already in progress');
    const opt = (n: string) => {
      const i = args.findIndex((a) => a.toString('latin1').toUpperCase() === n);
      return i >= 0 ? args[i + 1]?.toString('latin1') : undefined;
    };
    const mode = opt('MODE') ?? this.options.mode ?? 'plain';
    const limiter = opt('LIMITER') ?? this.options.limiter;
    Object.assign(this.save, { inProgress: true, startedMs: 0, mode, limiter: limiter ?? 'default' });
    let protectedNow: () => void = () => {};
    const started = new Promise<void>((r) => {
      protectedNow = r;
    });
    const options: SnapshotOptions = {
      memory: this.store.memory,
      to: join(this.options.dir ?? '.', 'dump.bgsnap'),
      mode: mode as SnapshotOptions['mode'], // passed through: the backend names modes it does not know
      ...(limiter ? { limiter } : {}),
      // The event loop is the only writer: stop reading sockets while the worker write-protects
      // (sub-millisecond with THP), so the image is memory at one instant.
      quiesce: {
        pause: () => this.#pause(true),
        resume: () => {
          this.save.startedMs = nowMs();
          this.#pause(false);
          protectedNow();
        },
      },
    };
    const done = snapshot(options).then(
      (report) => Object.assign(this.save, { status: 'ok', error: '', report }),
      (e: Error) => Object.assign(this.save, { status: 'err', error: e.message, report: undefined }),
    );
    this.#saving = done.then(() => {
      Object.assign(this.save, { inProgress: false, endedMs: nowMs() });
      this.#saving = undefined;
      if (this.#paused) this.#pause(false); // a worker that died while protecting never resumes us
      protectedNow(); // a save that failed before protecting still answers BGSAVE
    });
    if (wait)
      return this.#saving.then(() => (this.save.status === 'ok' ? OK : resp.error(`ERR ${this.save.error}`)));
    return started.then(() =>
      this.save.startedMs ? resp.simple('Background saving started') : resp.error(`ERR ${this.save.error}`),
    );
  }

  #pause(paused: boolean): void {
    this.#paused = paused;
    if (paused) {
      for (const s of this.#connections.keys()) s.pause();
      return;
    }
    for (const [s, run] of this.#connections) {
      s.resume();
      run();
    }
  }

  #info(): string {
    const s = this.save;
    const r = s.report;
    return [
      '# Server',
      'bgsnap_kv_server:1',
      '# Persistence',
      `rdb_bgsave_in_progress:${s.inProgress ? 1 : 0}`,
      `rdb_last_save_time:${Math.floor(s.endedMs / 1000)}`,
      `rdb_last_bgsave_status:${s.status === 'err' ? 'err' : 'ok'}`,
      `bgsnap_mode:${s.mode}`,
      `bgsnap_limiter:${s.limiter}`,
      `bgsnap_last_save_start_ms:${s.startedMs.toFixed(3)}`,
      `bgsnap_last_save_end_ms:${s.endedMs.toFixed(3)}`,
      `bgsnap_last_save_error:${s.error.replace(/\s+/g, ' ')}`,
      `bgsnap_last_faulted_pages:${r ? r.pages.faulted : 0}`,
      `bgsnap_last_duration_ms:${r ? (r.durationNs / 1e6).toFixed(3) : 0}`,
      '# Keyspace',
      `db0:keys=${this.store.size},expires=0,avg_ttl=0`,
      `capacity:${this.store.capacity}`,
      '',
    ].join('\r\n');
  }
}
