/**
 * One parser and formatter for the quantities bgsnap's command line and packages read and print:
 * sizes (bytes; `K`/`M`/`G`/`T` and `KiB`… are 1024-based because these are memory sizes, `KB`… are
 * 1000-based), durations (ns), bandwidths (bytes/s) and count rates (per second; `k` is 1000). Each
 * exact formatter reads back through its parser to the same value; parse errors are typed and name the
 * input and what was expected.
 * @packageDocumentation
 */
export { type BareDurationUnit, type DurationOptions, formatDuration, parseDuration } from './duration.js';
export { type UnitKind, UnitParseError, UnitRangeError } from './errors.js';
export { formatCount, formatRate, parseCountRate, parseRate, type RateOptions } from './rate.js';
export { type FormatOptions, formatBytes, parseSize, type SizeOptions } from './size.js';
