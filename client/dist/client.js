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
import { AuctionApi, AuctionApiError } from "./api.js";
import { Emitter } from "./emitter.js";
import { livenessAt } from "./liveness.js";
import { ClockSync } from "./price.js";
import { parseServerFrame, } from "./protocol.js";
import { defaultRetryPolicy } from "./retry.js";
import { OPEN } from "./socket.js";
import { transition } from "./state.js";
import { applyAuctionEnded, applyItemReleased, applyItemSold, applyJoinState, applyPolledSnapshot, applyPriceUpdated, applyViewerCount, displayAt, } from "./view.js";
/** The subprotocol the server selects; `bearer.<token>` rides along to carry the token. */
export const SUBPROTOCOL = "auction.v1";
const BEARER_PROTOCOL_PREFIX = "bearer.";
/** How often the liveness is re-evaluated. */
const LIVENESS_CHECK_MS = 250;
/** A refused join (`RateLimited`, `InternalError`) is sent again after 2, 4, 8, 16, then every 30 s (± 20 %). */
const JOIN_RETRY_POLICY = defaultRetryPolicy({
    delaysMs: [2_000, 4_000, 8_000, 16_000, 30_000],
    random: () => Math.random(),
});
const REMEMBERED_BIDS = 1000;
/** One connection to the auction API; see the module documentation. */
export class AuctionClient {
    options;
    retryPolicy;
    api;
    events = new Emitter();
    clock = new ClockSync();
    views = new Map();
    /** Joined auctions with how many callers hold each join. */
    joined = new Map();
    /** When each JoinAuction was sent on the current socket (a round trip for the clock). */
    joinSentAt = new Map();
    /** Bid ids whose outcome was emitted, oldest first. */
    announcedBids = new Set();
    /** This user's holds, by reservation id (the last {@link REMEMBERED_BIDS}). */
    holds = new Map();
    /** Each joined auction's membership, and the timers of joins to retry. */
    joinStates = new Map();
    joinRetries = new Map();
    currentState = "Disconnected";
    socket;
    epoch = 0;
    retryCount = 0;
    lostAtMs = 0;
    retryTimer;
    pollTimer;
    pingTimer;
    pongTimer;
    pingSentAtMs = 0;
    connectTimer;
    livenessTimer;
    currentLiveness = "offline";
    lastFrameAtMs = 0;
    lastPollOkAtMs = Number.NEGATIVE_INFINITY;
    /** When the pending reconnect attempt is due. */
    retryAtMs = 0;
    constructor(options) {
        this.options = {
            pollIntervalMs: 5_000,
            pingIntervalMs: 240_000,
            pongTimeoutMs: 5_000,
            bidAttempts: 4,
            silenceFactor: 2,
            connectTimeoutMs: 10_000,
            requestTimeoutMs: 4_000,
            tokenTransport: "protocol",
            ...options,
        };
        this.retryPolicy = options.retryPolicy ?? defaultRetryPolicy();
        this.api = new AuctionApi(this.options);
    }
    /** The connection state. */
    get state() {
        return this.currentState;
    }
    /** How much the client can vouch for what it shows (see {@link Liveness}). */
    get liveness() {
        return this.currentLiveness;
    }
    /** An auction's membership: joining, joined, gone or refused; undefined when not joined. */
    joinState(auctionId) {
        return this.joinStates.get(auctionId);
    }
    /**
     * Whether a bid placed now would be honoured as shown: the client is live, the auction is
     * joined, active and has items left.
     */
    canBid(auctionId) {
        const view = this.views.get(auctionId);
        const shown = this.display(auctionId);
        return (this.currentLiveness === "live" &&
            this.joinStates.get(auctionId)?.status === "joined" &&
            view !== undefined &&
            shown?.status === "Active" &&
            view.remainingItems > 0);
    }
    /** The estimated offset of the server's clock from this one, in milliseconds. */
    get clockOffsetMs() {
        return this.clock.offsetMs;
    }
    /** The server's clock now. */
    serverNow() {
        return this.clock.serverNow(Date.now());
    }
    /** Subscribes to an event; returns the function that unsubscribes. */
    on(type, listener) {
        return this.events.on(type, listener);
    }
    /** What the client knows about an auction. */
    auction(auctionId) {
        return this.views.get(auctionId);
    }
    /** The auction as it should be shown now: the price falling on schedule between frames. */
    display(auctionId) {
        const view = this.views.get(auctionId);
        return view === undefined ? undefined : displayAt(view, this.serverNow());
    }
    /** Opens the connection (and keeps it open) until {@link stop}. */
    connect() {
        if (!this.move("connect"))
            return;
        clearInterval(this.livenessTimer);
        this.livenessTimer = setInterval(() => this.checkLiveness(), LIVENESS_CHECK_MS);
        void this.openSocket();
    }
    /** Closes the connection for good: no reconnect, no polling. Joins are kept for a later connect. */
    stop() {
        this.move("stop");
        this.clearTimers();
        clearInterval(this.livenessTimer);
        this.livenessTimer = undefined;
        for (const retry of this.joinRetries.values())
            clearTimeout(retry.timer);
        this.joinRetries.clear();
        const socket = this.socket;
        this.socket = undefined;
        socket?.ws.close(1000, "client stopped");
        this.updateLiveness();
    }
    /**
     * Joins an auction's group; joins are counted, so every `join` needs its own `leave`. While not
     * connected the join is remembered and the snapshot is fetched over HTTP.
     */
    join(auctionId) {
        const holders = this.joined.get(auctionId) ?? 0;
        this.joined.set(auctionId, holders + 1);
        if (holders > 0)
            return;
        this.setJoinState({ auctionId, status: "joining" });
        if (this.currentState === "Connected")
            this.sendJoin(auctionId);
        else
            void this.pollOnce(auctionId);
    }
    /** Releases one `join`; the last one leaves the group and forgets the auction. */
    leave(auctionId) {
        const holders = this.joined.get(auctionId) ?? 0;
        if (holders > 1) {
            this.joined.set(auctionId, holders - 1);
            return;
        }
        if (holders === 0)
            return;
        this.joined.delete(auctionId);
        this.joinSentAt.delete(auctionId);
        this.views.delete(auctionId);
        this.joinStates.delete(auctionId);
        clearTimeout(this.joinRetries.get(auctionId)?.timer);
        this.joinRetries.delete(auctionId);
        this.send({ action: "LeaveAuction", auctionId });
    }
    /** Auctions joined now. */
    joinedAuctions() {
        return [...this.joined.keys()];
    }
    /** Fetches a snapshot over HTTP (`GET /api/auctions/{id}`) and merges it into the view. */
    async fetchAuction(auctionId) {
        let fetched;
        try {
            fetched = await this.api.getAuction(auctionId, this.options.requestTimeoutMs);
        }
        catch (error) {
            if (error instanceof AuctionApiError)
                this.serverAnswered();
            if (error instanceof AuctionApiError && error.status === 404 && this.joined.has(auctionId)) {
                this.setJoinState({
                    auctionId,
                    status: "gone",
                    error: { kind: "poll", message: error.message, auctionId },
                });
            }
            throw error;
        }
        const { snapshot, sentAt, receivedAt } = fetched;
        this.serverAnswered();
        this.clock.observeRoundTrip(Date.parse(snapshot.serverTime), sentAt, receivedAt);
        const view = applyPolledSnapshot(this.views.get(auctionId), snapshot);
        if (this.joined.has(auctionId))
            this.updateView(view);
        return view;
    }
    /**
     * Bids `bidPrice` on an auction over REST. Network errors, 5xx and 429 (after `Retry-After`) are
     * retried with the same bidId, which the server deduplicates: a retry never takes a second item.
     * Resolves with the outcome (accepted, or rejected with a reason); throws `AuctionApiError`
     * for other answers (401, 403, 404, 400) and the last network error when every attempt failed.
     */
    async placeBid(auctionId, bidPrice, options = {}) {
        const outcome = await this.api.placeBid(auctionId, bidPrice, options.bidId);
        this.announceBid(auctionId, outcome);
        return outcome;
    }
    /** A reservation this client saw its user win, as it stands. */
    reservation(reservationId) {
        return this.holds.get(reservationId);
    }
    /** This user's reservations (of one auction, when given), oldest first. */
    reservations(auctionId) {
        return [...this.holds.values()].filter((r) => auctionId === undefined || r.auctionId === auctionId);
    }
    /**
     * Pays for a hold (`POST /api/reservations/{id}/confirm`, retried safely: it is idempotent).
     * Resolves with the reservation `Confirmed`, or `Expired` when the hold lapsed first (`409`);
     * throws `AuctionApiError` for other answers (401, 403, 404) and the last network error when
     * every attempt failed.
     */
    async confirm(reservationId) {
        try {
            const body = await this.api.confirmReservation(reservationId);
            return this.setHold({
                reservationId: body.reservationId,
                auctionId: body.auctionId,
                bidId: body.bidId,
                winningPrice: body.winningPrice,
                expiresAtMs: Date.parse(body.expiresAt),
                state: body.state,
            });
        }
        catch (error) {
            const held = this.holds.get(reservationId);
            if (error instanceof AuctionApiError && error.status === 409 && held !== undefined) {
                return this.setHold({ ...held, state: "Expired" });
            }
            throw error;
        }
    }
    /** Records a hold's new state (a final state never goes back to `Held`); emits `reservation`. */
    setHold(next) {
        const held = this.holds.get(next.reservationId);
        if (held !== undefined && held.state !== "Held")
            return held;
        if (held !== undefined && held.state === next.state)
            return held;
        this.holds.set(next.reservationId, next);
        if (this.holds.size > REMEMBERED_BIDS) {
            const oldest = this.holds.keys().next().value;
            if (oldest !== undefined)
                this.holds.delete(oldest);
        }
        this.events.emit("reservation", next);
        return next;
    }
    // ---- connection ----
    move(event) {
        const next = transition(this.currentState, event);
        if (next === undefined)
            return false;
        if (next !== this.currentState) {
            this.currentState = next;
            this.events.emit("state", next);
        }
        return true;
    }
    async openSocket() {
        const epoch = ++this.epoch;
        let token;
        try {
            token = await this.options.token?.();
        }
        catch (error) {
            this.events.emit("error", { kind: "token", message: messageOf(error) });
            this.lost(epoch);
            return;
        }
        // stop() or a newer attempt may have happened while the token was being fetched.
        if (epoch !== this.epoch || this.currentState === "Disconnected")
            return;
        const url = new URL(this.options.url);
        const inHeader = token && this.options.tokenTransport === "protocol";
        if (token && !inHeader)
            url.searchParams.set("token", token);
        const Factory = this.options.WebSocket ?? globalThis.WebSocket;
        let ws;
        try {
            ws = inHeader
                ? new Factory(url.toString(), [SUBPROTOCOL, `${BEARER_PROTOCOL_PREFIX}${token}`])
                : new Factory(url.toString());
        }
        catch {
            // Not the exception's message: a browser's can quote the URL and protocols, token included.
            this.events.emit("error", { kind: "socket", message: "the WebSocket could not be created" });
            this.lost(epoch);
            return;
        }
        this.socket = { ws, epoch };
        clearTimeout(this.connectTimer);
        this.connectTimer = setTimeout(() => {
            this.connectTimer = undefined;
            if (epoch !== this.epoch || this.currentState === "Connected")
                return;
            this.events.emit("error", { kind: "socket", message: "the connection did not open in time" });
            this.lost(epoch);
        }, this.options.connectTimeoutMs);
        ws.onopen = () => this.opened(epoch);
        ws.onmessage = (event) => {
            if (epoch === this.epoch && typeof event.data === "string")
                this.received(event.data, epoch);
        };
        ws.onerror = () => {
            // The close event that follows carries what there is to know.
        };
        ws.onclose = (event) => {
            if (epoch !== this.epoch || this.currentState === "Disconnected")
                return;
            this.events.emit("error", {
                kind: "socket",
                message: `connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`,
            });
            this.lost(epoch);
        };
    }
    opened(epoch) {
        if (epoch !== this.epoch || !this.move("opened"))
            return;
        clearTimeout(this.connectTimer);
        this.connectTimer = undefined;
        this.retryCount = 0;
        this.lastFrameAtMs = Date.now();
        this.stopPolling();
        this.joinSentAt.clear();
        for (const auctionId of this.joined.keys()) {
            // A gone auction stays gone; every other one is joined afresh on the new connection.
            if (this.joinStates.get(auctionId)?.status === "gone")
                continue;
            clearTimeout(this.joinRetries.get(auctionId)?.timer);
            this.joinRetries.delete(auctionId);
            this.setJoinState({ auctionId, status: "joining" });
            this.sendJoin(auctionId);
        }
        this.pingTimer = setInterval(() => this.ping(), this.options.pingIntervalMs);
        this.updateLiveness();
    }
    /** The socket of `epoch` is gone (closed, failed to open, or silent): retry on the policy. */
    lost(epoch) {
        if (epoch !== this.epoch)
            return;
        const wasConnected = this.currentState === "Connected";
        const socket = this.socket;
        this.socket = undefined;
        if (socket !== undefined) {
            // Detach first: the close this causes must not count as a second loss.
            socket.ws.onopen = socket.ws.onclose = socket.ws.onmessage = socket.ws.onerror = null;
            if (socket.ws.readyState <= OPEN)
                socket.ws.close(4000, "reconnecting");
        }
        this.clearTimers();
        if (!this.move("lost"))
            return;
        this.updateLiveness();
        if (wasConnected || this.retryCount === 0)
            this.lostAtMs = Date.now();
        this.startPolling();
        const delay = this.retryPolicy.nextRetryDelayMs({
            previousRetryCount: this.retryCount,
            elapsedMs: Date.now() - this.lostAtMs,
        });
        if (delay === null) {
            this.events.emit("error", { kind: "socket", message: "the retry policy gave up" });
            this.stop();
            return;
        }
        this.retryCount += 1;
        this.scheduleRetry(delay);
    }
    /** The next reconnect attempt, `delayMs` from now (replacing any pending one). */
    scheduleRetry(delayMs) {
        clearTimeout(this.retryTimer);
        this.retryAtMs = Date.now() + delayMs;
        this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            if (this.currentState === "Reconnecting" && this.socket === undefined)
                void this.openSocket();
        }, delayMs);
    }
    /**
     * The server answered over HTTP. While reconnecting that proves it is back: the next attempt
     * comes at once (spread over 0.5 s so that a crowd does not reconnect in one instant) instead of
     * at the end of the backoff (never later than it was due). An attempt already under way is left
     * to finish.
     */
    serverAnswered() {
        this.lastPollOkAtMs = Date.now();
        const delay = Math.floor(Math.random() * 500);
        if (this.currentState === "Reconnecting" &&
            this.socket === undefined &&
            this.retryTimer !== undefined &&
            Date.now() + delay < this.retryAtMs) {
            this.scheduleRetry(delay);
        }
        this.updateLiveness();
    }
    /** The silence limit: `silenceFactor` × the shortest cadence among joined, active auctions. */
    silenceLimitMs() {
        let cadence;
        const now = this.serverNow();
        for (const [auctionId, view] of this.views) {
            if (view.pushIntervalSeconds === undefined || !this.joined.has(auctionId))
                continue;
            if (this.joinStates.get(auctionId)?.status !== "joined")
                continue;
            if (displayAt(view, now).status !== "Active")
                continue;
            cadence = Math.min(cadence ?? Number.POSITIVE_INFINITY, view.pushIntervalSeconds * 1000);
        }
        return cadence === undefined ? undefined : cadence * this.options.silenceFactor;
    }
    /** Pings a silent connection at once, and re-evaluates the liveness. */
    checkLiveness() {
        const limit = this.currentState === "Connected" ? this.silenceLimitMs() : undefined;
        if (limit !== undefined && Date.now() - this.lastFrameAtMs > limit)
            this.ping();
        this.setLiveness(limit);
    }
    /**
     * Re-evaluates the liveness after an event. The silence limit (a walk over the joined
     * auctions) is only worked out when the socket has been silent at all: right after a frame
     * it cannot matter, and every frame comes here.
     */
    updateLiveness() {
        const silent = this.currentState === "Connected" && Date.now() > this.lastFrameAtMs;
        this.setLiveness(silent ? this.silenceLimitMs() : undefined);
    }
    setLiveness(silenceLimitMs) {
        const next = livenessAt({
            state: this.currentState,
            nowMs: Date.now(),
            lastFrameAtMs: this.lastFrameAtMs,
            silenceLimitMs,
            lastPollOkAtMs: this.lastPollOkAtMs,
            // A poll vouches until the next one is overdue.
            pollFreshMs: this.options.pollIntervalMs + this.options.requestTimeoutMs,
        });
        if (next === this.currentLiveness)
            return;
        this.currentLiveness = next;
        this.events.emit("liveness", next);
    }
    ping() {
        if (this.pongTimer !== undefined)
            return;
        this.pingSentAtMs = Date.now();
        this.send({ action: "Ping" });
        const epoch = this.epoch;
        this.pongTimer = setTimeout(() => {
            this.pongTimer = undefined;
            this.events.emit("error", { kind: "socket", message: "no Pong: the connection is dead" });
            this.lost(epoch);
        }, this.options.pongTimeoutMs);
    }
    send(frame) {
        const ws = this.socket?.ws;
        if (this.currentState === "Connected" && ws !== undefined && ws.readyState === OPEN) {
            ws.send(JSON.stringify(frame));
        }
    }
    sendJoin(auctionId) {
        this.joinSentAt.set(auctionId, Date.now());
        this.send({ action: "JoinAuction", auctionId });
    }
    clearTimers() {
        clearTimeout(this.retryTimer);
        clearInterval(this.pingTimer);
        clearTimeout(this.pongTimer);
        clearTimeout(this.connectTimer);
        this.retryTimer = this.pingTimer = this.pongTimer = this.connectTimer = undefined;
        this.stopPolling();
    }
    // ---- polling fallback ----
    startPolling() {
        if (this.pollTimer !== undefined)
            return;
        const tick = () => {
            if (this.currentState !== "Reconnecting") {
                this.pollTimer = undefined;
                return;
            }
            for (const auctionId of this.joined.keys()) {
                if (this.joinStates.get(auctionId)?.status !== "gone")
                    void this.pollOnce(auctionId);
            }
            this.pollTimer = setTimeout(tick, this.options.pollIntervalMs);
        };
        tick();
    }
    stopPolling() {
        clearTimeout(this.pollTimer);
        this.pollTimer = undefined;
    }
    async pollOnce(auctionId) {
        try {
            await this.fetchAuction(auctionId);
        }
        catch (error) {
            this.events.emit("error", { kind: "poll", message: messageOf(error), auctionId });
        }
    }
    // ---- frames ----
    received(text, epoch) {
        const frame = parseServerFrame(text);
        if (frame === undefined)
            return;
        const receivedAt = Date.now();
        // Any frame proves the connection alive, whatever the Ping out is waiting for.
        this.lastFrameAtMs = receivedAt;
        if (frame.type !== "Pong") {
            clearTimeout(this.pongTimer);
            this.pongTimer = undefined;
        }
        this.clock.observeOneWay(frame.sentAt, receivedAt);
        this.handle(frame, epoch, receivedAt);
        this.updateLiveness();
    }
    handle(frame, epoch, receivedAt) {
        switch (frame.type) {
            case "AuctionState": {
                const snapshot = frame.data;
                const sentAt = this.joinSentAt.get(snapshot.auctionId);
                if (sentAt !== undefined) {
                    this.clock.observeRoundTrip(Date.parse(snapshot.serverTime), sentAt, receivedAt);
                    this.joinSentAt.delete(snapshot.auctionId);
                }
                if (!this.joined.has(snapshot.auctionId))
                    return;
                this.joinRetries.delete(snapshot.auctionId);
                this.setJoinState({ auctionId: snapshot.auctionId, status: "joined" });
                this.updateView(applyJoinState(this.views.get(snapshot.auctionId), snapshot, epoch));
                this.events.emit("AuctionState", snapshot);
                return;
            }
            case "PriceUpdated": {
                const data = frame.data;
                this.merge(data.auctionId, (view) => applyPriceUpdated(view, data, epoch, frame.sentAt));
                this.events.emit("PriceUpdated", data);
                return;
            }
            case "ViewerCountUpdated": {
                const data = frame.data;
                this.merge(data.auctionId, (view) => applyViewerCount(view, data, frame.sentAt));
                this.events.emit("ViewerCountUpdated", data);
                return;
            }
            case "ItemSold": {
                const data = frame.data;
                this.merge(data.auctionId, (view) => applyItemSold(view, data, epoch));
                this.events.emit("ItemSold", data);
                return;
            }
            case "ItemReleased": {
                const data = frame.data;
                this.merge(data.auctionId, (view) => applyItemReleased(view, data, epoch));
                this.events.emit("ItemReleased", data);
                return;
            }
            case "ReservationConfirmed": {
                const data = frame.data;
                const held = this.holds.get(data.reservationId);
                if (held !== undefined)
                    this.setHold({ ...held, state: "Confirmed" });
                this.events.emit("ReservationConfirmed", data);
                return;
            }
            case "ReservationExpired": {
                const data = frame.data;
                const held = this.holds.get(data.reservationId);
                if (held !== undefined)
                    this.setHold({ ...held, state: "Expired" });
                this.events.emit("ReservationExpired", data);
                return;
            }
            case "AuctionEnded": {
                const data = frame.data;
                this.merge(data.auctionId, (view) => applyAuctionEnded(view, data));
                this.events.emit("AuctionEnded", data);
                return;
            }
            case "BidAccepted": {
                const data = frame.data;
                this.announceBid(data.auctionId, { status: "Accepted", ...data });
                return;
            }
            case "BidRejected": {
                const data = frame.data;
                this.announceBid(data.auctionId, { status: "Rejected", ...data });
                return;
            }
            case "Pong": {
                clearTimeout(this.pongTimer);
                this.pongTimer = undefined;
                this.clock.observeRoundTrip(frame.sentAt, this.pingSentAtMs, receivedAt);
                this.events.emit("Pong", {});
                return;
            }
            case "Error": {
                const data = frame.data;
                const error = {
                    kind: "server",
                    message: data.message,
                    ...(data.auctionId === undefined ? {} : { auctionId: data.auctionId }),
                    frame: data,
                };
                if (data.action === "JoinAuction" && data.auctionId !== undefined)
                    this.joinFailed(data.auctionId, error);
                this.events.emit("error", error);
                return;
            }
        }
    }
    /**
     * A join the server refused: `NotFound` is final (`gone`), `Unauthorized` and `BadRequest`
     * wait for the next connection (`refused`), anything else (`RateLimited`, `InternalError`) is
     * retried after 2, 4, 8 … 30 s with jitter while the auction stays `joining`.
     */
    joinFailed(auctionId, error) {
        if (!this.joined.has(auctionId))
            return;
        const code = error.frame?.code;
        if (code === "NotFound") {
            this.setJoinState({ auctionId, status: "gone", error });
            return;
        }
        if (code === "Unauthorized" || code === "BadRequest") {
            this.setJoinState({ auctionId, status: "refused", error });
            return;
        }
        this.setJoinState({ auctionId, status: "joining", error });
        const retry = this.joinRetries.get(auctionId) ?? { attempts: 0, timer: undefined };
        clearTimeout(retry.timer);
        const delay = JOIN_RETRY_POLICY.nextRetryDelayMs({ previousRetryCount: retry.attempts, elapsedMs: 0 }) ?? 30_000;
        retry.attempts += 1;
        retry.timer = setTimeout(() => {
            retry.timer = undefined;
            if (this.joined.has(auctionId) && this.joinStates.get(auctionId)?.status === "joining") {
                this.sendJoin(auctionId);
            }
        }, delay);
        this.joinRetries.set(auctionId, retry);
    }
    setJoinState(state) {
        const previous = this.joinStates.get(state.auctionId);
        if (previous?.status === state.status && previous.error === state.error)
            return;
        this.joinStates.set(state.auctionId, state);
        this.events.emit("join", state);
        this.updateLiveness();
    }
    merge(auctionId, apply) {
        const view = this.views.get(auctionId);
        if (view === undefined)
            return;
        const next = apply(view);
        if (next !== undefined)
            this.updateView(next);
    }
    updateView(view) {
        this.views.set(view.auctionId, view);
        this.events.emit("auction", view);
    }
    /**
     * Emits a bid's outcome once, whichever of the REST answer and the frame arrives first. An
     * accepted bid also refreshes the auction over HTTP: the buyer's own connections get no
     * `ItemSold`, and counting down locally would double-count against other buyers' frames.
     */
    announceBid(auctionId, outcome) {
        if (this.announcedBids.has(outcome.bidId))
            return;
        this.announcedBids.add(outcome.bidId);
        if (this.announcedBids.size > REMEMBERED_BIDS) {
            const oldest = this.announcedBids.values().next().value;
            if (oldest !== undefined)
                this.announcedBids.delete(oldest);
        }
        if (outcome.status === "Accepted") {
            const { status: _status, ...rest } = outcome;
            this.setHold({
                reservationId: outcome.reservationId,
                auctionId,
                bidId: outcome.bidId,
                winningPrice: outcome.winningPrice,
                expiresAtMs: Date.parse(outcome.expiresAt),
                state: "Held",
            });
            this.events.emit("BidAccepted", { ...rest, auctionId });
            if (this.joined.has(auctionId))
                void this.pollOnce(auctionId);
        }
        else {
            const { status: _status, ...rest } = outcome;
            this.events.emit("BidRejected", { ...rest, auctionId });
        }
    }
}
function messageOf(error) {
    return error instanceof Error ? error.message : String(error);
}
