import type { SimSinkOptions } from '@bgsnap/fault-source-sim';
import { formatDuration, formatRate, parseDuration, parseRate } from '@bgsnap/units';
import { BadInputError } from 'bgsnap';

/**
 * How a benchmark sink misbehaves:
 * - `none`: never stalls;
 * - `periodic`: makes no progress for `stallNs` at the end of every `everyNs` period, counted from the
 *   sink's creation ("50 ms every 250 ms");
 * - `slow`: delivers at most `bytesPerSecond` (each write completes when its last byte would have
 *   left a link of that bandwidth).
 */
export type StallProfile =
  | { readonly kind: 'none' }
  | { readonly kind: 'periodic'; readonly stallNs: number; readonly everyNs: number }
  | { readonly kind: 'slow'; readonly bytesPerSecond: number };

/** The profiles `bgsnap-bench` runs by default: none, a 50 ms stall every 250 ms, and a 256 MiB/s sink. */
export const DEFAULT_PROFILES: readonly string[] = ['none', 'periodic:50ms/250ms', 'slow:256MiB/s'];

/**
 * Parses `none`, `periodic:<stall>/<every>` (e.g. `periodic:50ms/250ms`) or `slow:<rate>` (e.g.
 * `slow:256MiB/s`).
 * @throws BadInputError naming `option` and the accepted forms.
 */
export function parseStallProfile(text: string, option = '--profiles'): StallProfile {
  const t = text.trim();
  const fail = (why: string): never => {
    throw new BadInputError(
      option,
      `${why} in '${text}' (accepted: none, periodic:<stall>/<period> such as periodic:50ms/250ms, slow:<rate> such as slow:256MiB/s)`,
    );
  };
  if (t === 'none') return { kind: 'none' };
  if (t.startsWith('periodic:')) {
    const [stall, every, extra] = t.slice('periodic:'.length).split('/');
    if (stall === undefined || every === undefined || extra !== undefined)
      return fail('expected <stall>/<period>');
    let stallNs: number;
    let everyNs: number;
    try {
      stallNs = parseDuration(stall, { what: 'stall' });
      everyNs = parseDuration(every, { what: 'period' });
    } catch (error) {
      return fail((error as Error).message);
    }
    if (!(stallNs > 0 && everyNs > stallNs && Number.isFinite(everyNs))) {
      return fail('the stall must be > 0 and shorter than the period');
    }
    return { kind: 'periodic', stallNs, everyNs };
  }
  if (t.startsWith('slow:')) {
    let bytesPerSecond: number;
    try {
      bytesPerSecond = parseRate(t.slice('slow:'.length), { what: 'rate' });
    } catch (error) {
      return fail((error as Error).message);
    }
    if (!(bytesPerSecond >= 1024 && Number.isFinite(bytesPerSecond)))
      return fail('the rate must be at least 1KiB/s');
    return { kind: 'slow', bytesPerSecond };
  }
  return fail('unknown profile');
}

/** A short label for tables and plots, e.g. `stall 50ms/250ms`. */
export function profileLabel(profile: StallProfile): string {
  switch (profile.kind) {
    case 'none':
      return 'none';
    case 'periodic':
      return `stall ${formatDuration(profile.stallNs)}/${formatDuration(profile.everyNs)}`;
    case 'slow':
      return `slow ${formatRate(profile.bytesPerSecond)}`;
  }
}

/** A file-name-safe key: `none`, `periodic`, `slow`. */
export function profileKey(profile: StallProfile): string {
  return profile.kind;
}

/** The same profile for the simulator's sink (virtual time); `none` keeps the simulator's default device. */
export function toSimSinkOptions(profile: StallProfile): SimSinkOptions {
  switch (profile.kind) {
    case 'none':
      return {};
    case 'periodic':
      return { stall: { kind: 'periodic', stallNs: profile.stallNs, everyNs: profile.everyNs } };
    case 'slow':
      return { bandwidth: profile.bytesPerSecond };
  }
}
