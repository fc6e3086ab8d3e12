import type { FaultSource } from '@bgsnap/fault-source';
import { type AbortRace, throwIfAborted, yieldToEventLoop } from './abort-race.js';
import type { FaultService } from './fault-service.js';
import type { LoopCounters } from './loop-counters.js';
import type { PageWriter } from './types.js';

/** Wait slice while servicing faults during a drain. */
export const DRAIN_FAULT_WAIT_NS = 1e6;

/** Options of {@link Backpressure}. */
export interface BackpressureOptions {
  /** Keep servicing faults while the writer drains (see `SaveLoopOptions.serveFaultsWhileDraining`). */
  serveFaultsWhileDraining: boolean;
  /** Stop servicing faults during a drain once the writer buffers this many bytes. */
  maxBufferedWhileDrainingBytes: number;
}

/**
 * The writer's backpressure: awaits `writer.drain()` and counts the time as `drainStalledNs`. By default
 * (as QEMU) a stalled sink stalls fault service; with `serveFaultsWhileDraining` faults keep being
 * served in 1 ms slices until the drain settles or the writer's buffer reaches its cap.
 */
export class Backpressure {
  constructor(
    private readonly source: FaultSource,
    private readonly writer: PageWriter,
    private readonly counters: LoopCounters,
    private readonly faults: FaultService,
    private readonly abortable: AbortRace,
    private readonly signal: AbortSignal | undefined,
    private readonly options: BackpressureOptions,
  ) {}

  /** Awaits the writer's drain. */
  async drain(): Promise<void> {
    const clock = this.source.clock;
    const t0 = clock.now();
    if (this.options.serveFaultsWhileDraining) await this.drainServingFaults();
    else await this.abortable(this.writer.drain());
    this.counters.drainStalledNs += clock.now() - t0;
  }

  private async drainServingFaults(): Promise<void> {
    let drained = false;
    let failure: unknown;
    let failed = false;
    const drainPromise = this.writer.drain();
    drainPromise.then(
      () => {
        drained = true;
      },
      (error: unknown) => {
        failed = true;
        failure = error;
      },
    );
    const cap = this.options.maxBufferedWhileDrainingBytes;
    while (!drained && !failed && this.counters.remaining > 0) {
      throwIfAborted(this.signal);
      if ((this.writer.stats?.bufferedBytes ?? 0) >= cap) break;
      await this.faults.waitAndServe(DRAIN_FAULT_WAIT_NS);
      // A source whose waits settle as microtasks (virtual time) would otherwise starve the sink's I/O.
      await yieldToEventLoop();
    }
    if (failed) throw failure;
    if (!drained) await this.abortable(drainPromise);
  }
}
