import type { FaultSource } from '@bgsnap/fault-source';
import type { LimiterPolicy } from '@bgsnap/rate-limiter';
import type { LoopCounters } from './loop-counters.js';
import type { PageWriter } from './types.js';
import type { UnsavedPages } from './unsaved-pages.js';

/** What the fault path and the scan share: the source, the writer, the limiter and the page state. */
export interface LoopParts {
  readonly source: FaultSource;
  readonly writer: PageWriter;
  readonly limiter: LimiterPolicy;
  readonly counters: LoopCounters;
  /** Per region: the pages still to save. */
  readonly unsaved: readonly UnsavedPages[];
  /** Per region: the page size. */
  readonly pageSizes: readonly number[];
}
