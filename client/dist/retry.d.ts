/**
 * Reconnect policies. The default is 0, 2, 10 and 30 seconds, then every
 * 30 seconds for ever (a live auction has no good moment to give up) — with jitter, so that the
 * thousands of viewers a server restart drops do not all come back in the same millisecond.
 */
/** What a policy knows about the retries so far. */
export interface RetryContext {
    /** Retries already made since the connection was lost (0 before the first). */
    previousRetryCount: number;
    /** Milliseconds since the connection was lost. */
    elapsedMs: number;
}
/** Chooses the delay before the next reconnect attempt; `null` stops retrying. */
export interface RetryPolicy {
    nextRetryDelayMs(context: RetryContext): number | null;
}
/** Options of {@link defaultRetryPolicy}. */
export interface DefaultRetryOptions {
    /** The base delays in order; the last repeats for ever. Default `[0, 2000, 10000, 30000]`. */
    delaysMs?: readonly number[];
    /**
     * Each base delay is spread uniformly over `base × (1 ± jitterRatio)`. Default 0.2; 0 disables
     * jitter.
     */
    jitterRatio?: number;
    /** The first, immediate retry is spread over `[0, immediateSpreadMs)`. Default 500. */
    immediateSpreadMs?: number;
    /** A source of uniform numbers in [0, 1). Default `Math.random`. */
    random?: () => number;
}
/** The 0 / 2 / 10 / 30 s schedule with jitter, retrying every 30 s after that. */
export declare function defaultRetryPolicy(options?: DefaultRetryOptions): RetryPolicy;
