/**
 * How much the client can vouch for what it shows, as a pure function so that every case is
 * written down and tested:
 *
 * - `live`: the socket is open and the server was heard from within the silence limit (twice
 *   the cadence the snapshots announce, `pushIntervalSeconds`; no limit when no joined auction
 *   is active). Prices shown are confirmed, bids go through.
 * - `stale`: the client is extrapolating without recent confirmation: the socket is open but
 *   silent past the limit (a `Ping` is out), or the socket is down while the HTTP polls still
 *   answer (prices confirmed every poll interval, not live).
 * - `offline`: neither the socket nor a recent poll vouches for anything.
 */
export function livenessAt(inputs) {
    switch (inputs.state) {
        case "Connected":
            return inputs.silenceLimitMs !== undefined &&
                inputs.nowMs - inputs.lastFrameAtMs > inputs.silenceLimitMs
                ? "stale"
                : "live";
        case "Connecting":
        case "Reconnecting":
            return inputs.nowMs - inputs.lastPollOkAtMs <= inputs.pollFreshMs ? "stale" : "offline";
        case "Disconnected":
            return "offline";
    }
}
