/**
 * Requests to send during a save so that they all fall inside it: the baseline rate × a first save's
 * duration × `inside` (a fraction, (0, 1]), at least 1, at most `max`.
 */
export function requestsInside(baselineRps: number, drySaveMs: number, inside: number, max: number): number {
  return Math.max(1, Math.min(max, Math.floor((baselineRps * drySaveMs * inside) / 1000)));
}

/** What INFO said right before the load started and right after it ended. */
export interface SaveWindow {
  /** `rdb_bgsave_in_progress:1` once BGSAVE had replied, before the first request. */
  before: boolean;
  /** `rdb_bgsave_in_progress:1` right after the last reply. */
  after: boolean;
}

/** The next step of a during-save measurement: keep this attempt, or try again with fewer requests. */
export type InsideDecision =
  | { readonly keep: true; readonly allInside: boolean }
  | { readonly keep: false; readonly nextRequests: number };

/** Attempts of a during-save measurement before its last one is kept, inside or not. */
export const INSIDE_ATTEMPTS = 3;

/**
 * Whether every request of an attempt fell inside the save (in progress before the first and after
 * the last), and if not, what to do: halve the requests and try again, up to {@link INSIDE_ATTEMPTS}
 * attempts or down to one request; then the attempt is kept and marked not inside, and no verdict
 * may rest on it.
 */
export function decideInside(window: SaveWindow, attempt: number, requests: number): InsideDecision {
  const allInside = window.before && window.after;
  if (allInside || attempt >= INSIDE_ATTEMPTS || requests <= 1) return { keep: true, allInside };
  return { keep: false, nextRequests: Math.max(1, Math.floor(requests / 2)) };
}
