/**
 * `AuctionClient`: one WebSocket to the auction API (docs/protocol.md sections 3–4) plus its REST side
 * (section 5), with what a live auction needs from a client:
 *
 * - an explicit state machine ({@link transition}) and a `state` event;
 * - a token factory, asked again before every (re)connect; the token travels in the
 *   `Sec-WebSocket-Protocol` header (`auction.v1, bearer.<token>`), never in the URL, so that
 *   browsers and proxies do not log it (`tokenTransport: "query"` puts it in `?token=`);
 * - liveness ({@link Liveness}): no frame for twice the cadence the snapshot announces
 *   (`pushIntervalSeconds`) makes the client `stale` and it Pings at once; no `Pong` within
 *   `pongTimeoutMs` counts as a lost connection. A socket that does not open within
 *   `connectTimeoutMs` is abandoned and retried;
 * - per-auction join states ({@link JoinStatus}): `NotFound` on a (re-)join or a 404 poll makes an
 *   auction `gone`, `Unauthorized` `refused`, `RateLimited` and `InternalError` are retried with
 *   backoff;
 * - automatic reconnect on a pluggable {@link RetryPolicy} (default: 0/2/10/30 s with
 *   jitter, then every 30 s, never giving up);
 * - after every reconnect, a re-join of every auction it had joined — API Gateway hands out a new
 *   connection id, so memberships do not survive — taking the fresh `AuctionState` as truth;
 * - while reconnecting, polling `GET /api/auctions/{id}` every 5 s, stopped once connected; a
 *   poll that succeeds proves the server is back and brings the next reconnect attempt forward
 *   (jittered over 0.5 s), so recovery after an outage is bounded by the poll interval;
 * - typed events for every server frame, merged by {@link AuctionView}'s rules so that late or
 *   duplicated frames never move the display backwards, and `BidAccepted`/`BidRejected` emitted
 *   once per bidId whether the REST answer or the frame comes first;
 * - the price extrapolated on the auction's schedule at the server's clock ({@link ClockSync});
 * - `Ping` every 4 minutes besides, well inside API Gateway's 10-minute idle timeout;
 * - `placeBid` over REST with a client-generated bidId, retried with that same bidId, so a retry
 *   can never buy a second item ({@link AuctionApi});
 * - the user's reservations ({@link Reservation}: held, confirmed, expired) and `confirm`, which
 *   pays for a hold before it lapses.
 *
 * The socket's types are in `socket.ts`, the HTTP side in `api.ts`.
 */
import { type TokenFactory } from "./api.js";
import { type JoinStatus, type Liveness } from "./liveness.js";
import { type BidOutcome, type ErrorData, type ReservationState, type ServerFrameData } from "./protocol.js";
import { type RetryPolicy } from "./retry.js";
import { type WebSocketFactory } from "./socket.js";
import { type ConnectionState } from "./state.js";
import { type AuctionView, type DisplayedAuction } from "./view.js";
/** Options of {@link AuctionClient}. */
export interface AuctionClientOptions {
    /** The WebSocket URL, e.g. `ws://127.0.0.1:3000/ws` or the stack's `wss://…/{stage}`. */
    url: string;
    /** The HTTP API's base URL, e.g. `http://127.0.0.1:3000`; requests go to `{base}/api/…`. */
    apiBaseUrl: string;
    /** Asked for a token before every connect and request; none means anonymous. */
    token?: TokenFactory;
    /** Default: {@link defaultRetryPolicy}. */
    retryPolicy?: RetryPolicy;
    /** Polling period while reconnecting. Default 5000. */
    pollIntervalMs?: number;
    /** `Ping` period while connected. Default 240000 (4 minutes; API Gateway idles out at 10). */
    pingIntervalMs?: number;
    /** A `Ping` unanswered this long counts as a lost connection. Default 5000. */
    pongTimeoutMs?: number;
    /**
     * Silence longer than this many times the announced cadence (`pushIntervalSeconds` of a
     * joined, active auction) makes the client `stale` and sends a `Ping`. Default 2.
     */
    silenceFactor?: number;
    /** A socket not open after this long is abandoned and retried. Default 10000. */
    connectTimeoutMs?: number;
    /** An HTTP snapshot request (the polling fallback) gives up after this long. Default 4000. */
    requestTimeoutMs?: number;
    /**
     * How the token reaches the WebSocket API: `protocol` (default) offers the subprotocols
     * `auction.v1` and `bearer.<token>` (the server selects `auction.v1`), `query` appends
     * `?token=` (visible in logs and browser consoles).
     */
    tokenTransport?: "protocol" | "query";
    /** Attempts per bid (network errors, 5xx and 429 are retried with the same bidId). Default 4. */
    bidAttempts?: number;
    /** Default: the global `WebSocket`. */
    WebSocket?: WebSocketFactory;
    /** Default: the global `fetch`. */
    fetch?: typeof fetch;
    /** Default: `crypto.randomUUID`. */
    newBidId?: () => string;
}
/** A failure the client reports without throwing: transport, polling, or a server `Error` frame. */
export interface ClientError {
    kind: "socket" | "poll" | "server" | "token";
    message: string;
    auctionId?: string;
    /** The server's `Error` frame, for kind `server`. */
    frame?: ErrorData;
}
/** Where an auction's membership stands (see {@link JoinStatus}), with what made it so. */
export interface JoinState {
    auctionId: string;
    status: JoinStatus;
    /** Why it is not `joined` (the last refusal or failure), if the server said. */
    error?: ClientError;
}
/** The subprotocol the server selects; `bearer.<token>` rides along to carry the token. */
export declare const SUBPROTOCOL = "auction.v1";
/** The client's events: every server frame by its type, plus the client's own. */
export interface AuctionClientEvents extends Omit<ServerFrameData, "Error"> {
    /** The connection state changed. */
    state: ConnectionState;
    /** The liveness changed. */
    liveness: Liveness;
    /** An auction's join state changed. */
    join: JoinState;
    /** An auction's view changed (any frame, poll or join that moved it). */
    auction: AuctionView;
    /** Something failed; the client carries on (reconnecting, polling). */
    error: ClientError;
    /** One of this user's reservations changed: won (held), confirmed or expired. */
    reservation: Reservation;
}
/**
 * A hold this client's user won (docs/protocol.md, reservations): `Held` until it is confirmed
 * ({@link AuctionClient.confirm}) or lapses (`ReservationExpired`, or a confirmation answered
 * `409 Expired`). Confirmed and expired are final.
 */
export interface Reservation {
    reservationId: string;
    auctionId: string;
    bidId: string;
    winningPrice: number;
    /** Epoch milliseconds on the server's clock: the hold holds until, not including, this instant. */
    expiresAtMs: number;
    state: ReservationState;
}
/** One connection to the auction API; see the module documentation. */
export declare class AuctionClient {
    private readonly options;
    private readonly retryPolicy;
    private readonly api;
    private readonly events;
    private readonly clock;
    private readonly views;
    /** Joined auctions with how many callers hold each join. */
    private readonly joined;
    /** When each JoinAuction was sent on the current socket (a round trip for the clock). */
    private readonly joinSentAt;
    /** Bid ids whose outcome was emitted, oldest first. */
    private readonly announcedBids;
    /** This user's holds, by reservation id (the last {@link REMEMBERED_BIDS}). */
    private readonly holds;
    /** Each joined auction's membership, and the timers of joins to retry. */
    private readonly joinStates;
    private readonly joinRetries;
    private currentState;
    private socket;
    private epoch;
    private retryCount;
    private lostAtMs;
    private retryTimer;
    private pollTimer;
    private pingTimer;
    private pongTimer;
    private pingSentAtMs;
    private connectTimer;
    private livenessTimer;
    private currentLiveness;
    private lastFrameAtMs;
    private lastPollOkAtMs;
    /** When the pending reconnect attempt is due. */
    private retryAtMs;
    constructor(options: AuctionClientOptions);
    /** The connection state. */
    get state(): ConnectionState;
    /** How much the client can vouch for what it shows (see {@link Liveness}). */
    get liveness(): Liveness;
    /** An auction's membership: joining, joined, gone or refused; undefined when not joined. */
    joinState(auctionId: string): JoinState | undefined;
    /**
     * Whether a bid placed now would be honoured as shown: the client is live, the auction is
     * joined, active and has items left.
     */
    canBid(auctionId: string): boolean;
    /** The estimated offset of the server's clock from this one, in milliseconds. */
    get clockOffsetMs(): number;
    /** The server's clock now. */
    serverNow(): number;
    /** Subscribes to an event; returns the function that unsubscribes. */
    on<K extends keyof AuctionClientEvents>(type: K, listener: (payload: AuctionClientEvents[K]) => void): () => void;
    /** What the client knows about an auction. */
    auction(auctionId: string): AuctionView | undefined;
    /** The auction as it should be shown now: the price falling on schedule between frames. */
    display(auctionId: string): DisplayedAuction | undefined;
    /** Opens the connection (and keeps it open) until {@link stop}. */
    connect(): void;
    /** Closes the connection for good: no reconnect, no polling. Joins are kept for a later connect. */
    stop(): void;
    /**
     * Joins an auction's group; joins are counted, so every `join` needs its own `leave`. While not
     * connected the join is remembered and the snapshot is fetched over HTTP.
     */
    join(auctionId: string): void;
    /** Releases one `join`; the last one leaves the group and forgets the auction. */
    leave(auctionId: string): void;
    /** Auctions joined now. */
    joinedAuctions(): string[];
    /** Fetches a snapshot over HTTP (`GET /api/auctions/{id}`) and merges it into the view. */
    fetchAuction(auctionId: string): Promise<AuctionView>;
    /**
     * Bids `bidPrice` on an auction over REST. Network errors, 5xx and 429 (after `Retry-After`) are
     * retried with the same bidId, which the server deduplicates: a retry never takes a second item.
     * Resolves with the outcome (accepted, or rejected with a reason); throws `AuctionApiError`
     * for other answers (401, 403, 404, 400) and the last network error when every attempt failed.
     */
    placeBid(auctionId: string, bidPrice: number, options?: {
        bidId?: string;
    }): Promise<BidOutcome>;
    /** A reservation this client saw its user win, as it stands. */
    reservation(reservationId: string): Reservation | undefined;
    /** This user's reservations (of one auction, when given), oldest first. */
    reservations(auctionId?: string): Reservation[];
    /**
     * Pays for a hold (`POST /api/reservations/{id}/confirm`, retried safely: it is idempotent).
     * Resolves with the reservation `Confirmed`, or `Expired` when the hold lapsed first (`409`);
     * throws `AuctionApiError` for other answers (401, 403, 404) and the last network error when
     * every attempt failed.
     */
    confirm(reservationId: string): Promise<Reservation>;
    /** Records a hold's new state (a final state never goes back to `Held`); emits `reservation`. */
    private setHold;
    private move;
    private openSocket;
    private opened;
    /** The socket of `epoch` is gone (closed, failed to open, or silent): retry on the policy. */
    private lost;
    /** The next reconnect attempt, `delayMs` from now (replacing any pending one). */
    private scheduleRetry;
    /**
     * The server answered over HTTP. While reconnecting that proves it is back: the next attempt
     * comes at once (spread over 0.5 s so that a crowd does not reconnect in one instant) instead of
     * at the end of the backoff (never later than it was due). An attempt already under way is left
     * to finish.
     */
    private serverAnswered;
    /** The silence limit: `silenceFactor` × the shortest cadence among joined, active auctions. */
    private silenceLimitMs;
    /** Pings a silent connection at once, and re-evaluates the liveness. */
    private checkLiveness;
    /**
     * Re-evaluates the liveness after an event. The silence limit (a walk over the joined
     * auctions) is only worked out when the socket has been silent at all: right after a frame
     * it cannot matter, and every frame comes here.
     */
    private updateLiveness;
    private setLiveness;
    private ping;
    private send;
    private sendJoin;
    private clearTimers;
    private startPolling;
    private stopPolling;
    private pollOnce;
    private received;
    private handle;
    /**
     * A join the server refused: `NotFound` is final (`gone`), `Unauthorized` and `BadRequest`
     * wait for the next connection (`refused`), anything else (`RateLimited`, `InternalError`) is
     * retried after 2, 4, 8 … 30 s with jitter while the auction stays `joining`.
     */
    private joinFailed;
    private setJoinState;
    private merge;
    private updateView;
    /**
     * Emits a bid's outcome once, whichever of the REST answer and the frame arrives first. An
     * accepted bid also refreshes the auction over HTTP: the buyer's own connections get no
     * `ItemSold`, and counting down locally would double-count against other buyers' frames.
     */
    private announceBid;
}
