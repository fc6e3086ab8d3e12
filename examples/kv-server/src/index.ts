/**
 * Example: a single-threaded RESP key-value server whose values live in bgsnap `TrackedMemory`, with
 * a background `BGSAVE` taken by bgsnap while it keeps serving.
 * @packageDocumentation
 */
export { KvServer, type KvServerOptions, type SaveState } from './kv-server.js';
export { RespError, RespParser, type RespValue, resp } from './resp.js';
export { RespClient } from './resp-client.js';
export { parseSize } from './size.js';
export { StoreError, ValueStore } from './value-store.js';
