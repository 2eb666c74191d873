/**
 * `AuctionClient`: one WebSocket to the auction API (docs/protocol.md sections 3–4) plus its REST side
 * (section 5), with what a live auction needs from a client:
 *
 * - an explicit state machine ({@link transition}) and a `state` event;
 * - a token factory, asked again before every (re)connect (`?token=` on the upgrade);
 * - automatic reconnect on a pluggable {@link RetryPolicy} (default: 0/2/10/30 s with
 *   jitter, then every 30 s, never giving up);
 * - after every reconnect, a re-join of every auction it had joined — API Gateway hands out a new
 *   connection id, so memberships do not survive — taking the fresh `AuctionState` as truth;
 * - while reconnecting, polling `GET /api/auctions/{id}` every 5 s, stopped once connected;
 * - typed events for every server frame, merged by {@link AuctionView}'s rules so that late or
 *   duplicated frames never move the display backwards, and `BidAccepted`/`BidRejected` emitted
 *   once per bidId whether the REST answer or the frame comes first;
 * - the price extrapolated on the auction's schedule at the server's clock ({@link ClockSync});
 * - `Ping` every 4 minutes, well inside API Gateway's 10-minute idle timeout; a missing `Pong`
 *   counts as a lost connection;
 * - `placeBid` over REST with a client-generated bidId, retried with that same bidId, so a retry
 *   can never buy a second item ({@link AuctionApi}).
 *
 * The socket's types are in `socket.ts`, the HTTP side in `api.ts`.
 */
import { type TokenFactory } from "./api.js";
import { type BidOutcome, type ErrorData, type ServerFrameData } from "./protocol.js";
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
    /** A `Ping` unanswered this long counts as a lost connection. Default 30000. */
    pongTimeoutMs?: number;
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
/** The client's events: every server frame by its type, plus the client's own. */
export interface AuctionClientEvents extends Omit<ServerFrameData, "Error"> {
    /** The connection state changed. */
    state: ConnectionState;
    /** An auction's view changed (any frame, poll or join that moved it). */
    auction: AuctionView;
    /** Something failed; the client carries on (reconnecting, polling). */
    error: ClientError;
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
    constructor(options: AuctionClientOptions);
    /** The connection state. */
    get state(): ConnectionState;
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
    private move;
    private openSocket;
    private opened;
    /** The socket of `epoch` is gone (closed, failed to open, or silent): retry on the policy. */
    private lost;
    private ping;
    private send;
    private sendJoin;
    private clearTimers;
    private startPolling;
    private stopPolling;
    private pollOnce;
    private received;
    private handle;
    private merge;
    private updateView;
    /**
     * Emits a bid's outcome once, whichever of the REST answer and the frame arrives first. An
     * accepted bid also refreshes the auction over HTTP: the buyer's own connections get no
     * `ItemSold`, and counting down locally would double-count against other buyers' frames.
     */
    private announceBid;
}
