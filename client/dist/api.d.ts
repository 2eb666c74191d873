/**
 * The HTTP side of the auction API ([protocol](../../docs/protocol.md) section 5): snapshots for
 * the polling fallback, and bids with a client-generated bidId retried with that same bidId, so a
 * retry can never buy a second item; reservations (read a hold, confirm it: checkout).
 */
import type { AuctionSnapshot, BidOutcome, Problem, ReservationBody } from "./protocol.js";
/** Returns the bearer token to use, or nothing for an anonymous viewer. */
export type TokenFactory = () => string | null | undefined | Promise<string | null | undefined>;
/** A non-2xx answer of the HTTP API (other than a bid's 409), with its problem document. */
export declare class AuctionApiError extends Error {
    readonly status: number;
    readonly problem: Problem;
    readonly retryAfterSeconds?: number | undefined;
    constructor(status: number, problem: Problem, retryAfterSeconds?: number | undefined);
}
/** What {@link AuctionApi} needs. */
export interface AuctionApiOptions {
    /** The HTTP API's base URL, e.g. `http://127.0.0.1:3000`; requests go to `{base}/api/…`. */
    apiBaseUrl: string;
    /** Asked for a token before every request; none means anonymous. */
    token?: TokenFactory;
    /** Attempts per bid (network errors, 5xx and 429 are retried with the same bidId). */
    bidAttempts: number;
    /** Default: the global `fetch`. */
    fetch?: typeof fetch;
    /** Default: `crypto.randomUUID`. */
    newBidId?: () => string;
}
/** A snapshot with the times of its round trip (for the clock offset). */
export interface FetchedSnapshot {
    snapshot: AuctionSnapshot;
    sentAt: number;
    receivedAt: number;
}
/** The HTTP API's client. */
export declare class AuctionApi {
    private readonly options;
    constructor(options: AuctionApiOptions);
    /**
     * `GET /api/auctions/{id}`; throws {@link AuctionApiError} for a non-2xx answer, and an `Error`
     * when no answer came within `timeoutMs` (a frozen server accepts connections and never answers).
     */
    getAuction(auctionId: string, timeoutMs?: number): Promise<FetchedSnapshot>;
    /**
     * `POST /api/auctions/{id}/bids`. Network errors, 5xx and 429 (after `Retry-After`) are retried
     * with the same bidId, which the server deduplicates. Resolves with the outcome (accepted, or
     * rejected with a reason); throws {@link AuctionApiError} for other answers (401, 403, 404, 400)
     * and the last error when every attempt failed.
     */
    placeBid(auctionId: string, bidPrice: number, bidId?: string): Promise<BidOutcome>;
    /** `GET /api/reservations/{id}`: the buyer's (or the tenant checkout's) view of a hold. */
    getReservation(reservationId: string): Promise<ReservationBody>;
    /**
     * `POST /api/reservations/{id}/confirm`: pays for a hold. Idempotent, so it is retried like a bid
     * (network errors, 5xx, 429). Resolves with the reservation (`Confirmed`, on the first call and
     * every repeat); throws {@link AuctionApiError} otherwise — `409` with `problem.code` `Expired`
     * when the hold lapsed first.
     */
    confirmReservation(reservationId: string): Promise<ReservationBody>;
    /**
     * Sends an idempotent request up to `bidAttempts` times: network errors, 5xx and 429 (after
     * `Retry-After`) are retried; a status in `answers` is returned; any other throws.
     */
    private idempotent;
    private request;
}
