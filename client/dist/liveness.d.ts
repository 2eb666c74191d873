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
import type { ConnectionState } from "./state.js";
export type Liveness = "live" | "stale" | "offline";
/** What {@link livenessAt} looks at. */
export interface LivenessInputs {
    state: ConnectionState;
    nowMs: number;
    /** When the last frame arrived on the current socket (or when it opened). */
    lastFrameAtMs: number;
    /** The longest silence that still counts as live; `undefined` for no limit. */
    silenceLimitMs: number | undefined;
    /** When an HTTP snapshot last came back. */
    lastPollOkAtMs: number;
    /** How long a successful poll vouches for the data while the socket is down. */
    pollFreshMs: number;
}
export declare function livenessAt(inputs: LivenessInputs): Liveness;
/**
 * Whether an auction's joined (or failed) membership: `joining` until its `AuctionState` came,
 * `joined` after, `gone` when the server says it does not exist (`NotFound` on a join, `404` on a
 * poll: never retried), `refused` when the server will not let this connection watch it
 * (`Unauthorized`, `BadRequest`: retried after the next reconnect only).
 */
export type JoinStatus = "joining" | "joined" | "gone" | "refused";
