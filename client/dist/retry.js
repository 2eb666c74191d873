/**
 * Reconnect policies. The default is 0, 2, 10 and 30 seconds, then every
 * 30 seconds for ever (a live auction has no good moment to give up) — with jitter, so that the
 * thousands of viewers a server restart drops do not all come back in the same millisecond.
 */
/** The 0 / 2 / 10 / 30 s schedule with jitter, retrying every 30 s after that. */
export function defaultRetryPolicy(options = {}) {
    const delays = options.delaysMs ?? [0, 2_000, 10_000, 30_000];
    if (delays.length === 0 || delays.some((d) => !(d >= 0))) {
        throw new RangeError("delaysMs must be a non-empty list of non-negative numbers");
    }
    const jitter = options.jitterRatio ?? 0.2;
    if (!(jitter >= 0 && jitter < 1))
        throw new RangeError("jitterRatio must be in [0, 1)");
    const spread = options.immediateSpreadMs ?? 500;
    const random = options.random ?? Math.random;
    return {
        nextRetryDelayMs({ previousRetryCount }) {
            const base = delays[Math.min(previousRetryCount, delays.length - 1)] ?? 0;
            if (base === 0)
                return spread > 0 ? Math.floor(random() * spread) : 0;
            return Math.round(base * (1 - jitter + 2 * jitter * random()));
        },
    };
}
