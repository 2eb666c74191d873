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

import { AuctionApi, type TokenFactory } from "./api.js";
import { Emitter } from "./emitter.js";
import { ClockSync } from "./price.js";
import {
  type AuctionSnapshot,
  type BidAcceptedData,
  type BidOutcome,
  type BidRejectedData,
  type ClientFrame,
  type ErrorData,
  parseServerFrame,
  type ServerFrame,
  type ServerFrameData,
} from "./protocol.js";
import { type RetryPolicy, defaultRetryPolicy } from "./retry.js";
import { OPEN, type Socket, type WebSocketFactory, type WebSocketLike } from "./socket.js";
import { type ConnectionEvent, type ConnectionState, transition } from "./state.js";
import {
  type AuctionView,
  applyAuctionEnded,
  applyItemSold,
  applyJoinState,
  applyPolledSnapshot,
  applyPriceUpdated,
  applyViewerCount,
  type DisplayedAuction,
  displayAt,
} from "./view.js";

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

const REMEMBERED_BIDS = 1000;

/** One connection to the auction API; see the module documentation. */
export class AuctionClient {
  private readonly options: Required<
    Pick<
      AuctionClientOptions,
      "url" | "apiBaseUrl" | "pollIntervalMs" | "pingIntervalMs" | "pongTimeoutMs" | "bidAttempts"
    >
  > &
    AuctionClientOptions;
  private readonly retryPolicy: RetryPolicy;
  private readonly api: AuctionApi;
  private readonly events = new Emitter<AuctionClientEvents>();
  private readonly clock = new ClockSync();
  private readonly views = new Map<string, AuctionView>();
  /** Joined auctions with how many callers hold each join. */
  private readonly joined = new Map<string, number>();
  /** When each JoinAuction was sent on the current socket (a round trip for the clock). */
  private readonly joinSentAt = new Map<string, number>();
  /** Bid ids whose outcome was emitted, oldest first. */
  private readonly announcedBids = new Set<string>();

  private currentState: ConnectionState = "Disconnected";
  private socket: Socket | undefined;
  private epoch = 0;
  private retryCount = 0;
  private lostAtMs = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private pingSentAtMs = 0;

  constructor(options: AuctionClientOptions) {
    this.options = {
      pollIntervalMs: 5_000,
      pingIntervalMs: 240_000,
      pongTimeoutMs: 30_000,
      bidAttempts: 4,
      ...options,
    };
    this.retryPolicy = options.retryPolicy ?? defaultRetryPolicy();
    this.api = new AuctionApi(this.options);
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The estimated offset of the server's clock from this one, in milliseconds. */
  get clockOffsetMs(): number {
    return this.clock.offsetMs;
  }

  /** The server's clock now. */
  serverNow(): number {
    return this.clock.serverNow(Date.now());
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof AuctionClientEvents>(
    type: K,
    listener: (payload: AuctionClientEvents[K]) => void,
  ): () => void {
    return this.events.on(type, listener);
  }

  /** What the client knows about an auction. */
  auction(auctionId: string): AuctionView | undefined {
    return this.views.get(auctionId);
  }

  /** The auction as it should be shown now: the price falling on schedule between frames. */
  display(auctionId: string): DisplayedAuction | undefined {
    const view = this.views.get(auctionId);
    return view === undefined ? undefined : displayAt(view, this.serverNow());
  }

  /** Opens the connection (and keeps it open) until {@link stop}. */
  connect(): void {
    if (this.move("connect")) void this.openSocket();
  }

  /** Closes the connection for good: no reconnect, no polling. Joins are kept for a later connect. */
  stop(): void {
    this.move("stop");
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    socket?.ws.close(1000, "client stopped");
  }

  /**
   * Joins an auction's group; joins are counted, so every `join` needs its own `leave`. While not
   * connected the join is remembered and the snapshot is fetched over HTTP.
   */
  join(auctionId: string): void {
    const holders = this.joined.get(auctionId) ?? 0;
    this.joined.set(auctionId, holders + 1);
    if (holders > 0) return;
    if (this.currentState === "Connected") this.sendJoin(auctionId);
    else void this.pollOnce(auctionId);
  }

  /** Releases one `join`; the last one leaves the group and forgets the auction. */
  leave(auctionId: string): void {
    const holders = this.joined.get(auctionId) ?? 0;
    if (holders > 1) {
      this.joined.set(auctionId, holders - 1);
      return;
    }
    if (holders === 0) return;
    this.joined.delete(auctionId);
    this.joinSentAt.delete(auctionId);
    this.views.delete(auctionId);
    this.send({ action: "LeaveAuction", auctionId });
  }

  /** Auctions joined now. */
  joinedAuctions(): string[] {
    return [...this.joined.keys()];
  }

  /** Fetches a snapshot over HTTP (`GET /api/auctions/{id}`) and merges it into the view. */
  async fetchAuction(auctionId: string): Promise<AuctionView> {
    const { snapshot, sentAt, receivedAt } = await this.api.getAuction(auctionId);
    this.clock.observeRoundTrip(Date.parse(snapshot.serverTime), sentAt, receivedAt);
    const view = applyPolledSnapshot(this.views.get(auctionId), snapshot);
    if (this.joined.has(auctionId)) this.updateView(view);
    return view;
  }

  /**
   * Bids `bidPrice` on an auction over REST. Network errors, 5xx and 429 (after `Retry-After`) are
   * retried with the same bidId, which the server deduplicates: a retry never takes a second item.
   * Resolves with the outcome (accepted, or rejected with a reason); throws `AuctionApiError`
   * for other answers (401, 403, 404, 400) and the last network error when every attempt failed.
   */
  async placeBid(
    auctionId: string,
    bidPrice: number,
    options: { bidId?: string } = {},
  ): Promise<BidOutcome> {
    const outcome = await this.api.placeBid(auctionId, bidPrice, options.bidId);
    this.announceBid(auctionId, outcome);
    return outcome;
  }

  // ---- connection ----

  private move(event: ConnectionEvent): boolean {
    const next = transition(this.currentState, event);
    if (next === undefined) return false;
    if (next !== this.currentState) {
      this.currentState = next;
      this.events.emit("state", next);
    }
    return true;
  }

  private async openSocket(): Promise<void> {
    const epoch = ++this.epoch;
    let token: string | null | undefined;
    try {
      token = await this.options.token?.();
    } catch (error) {
      this.events.emit("error", { kind: "token", message: messageOf(error) });
      this.lost(epoch);
      return;
    }
    // stop() or a newer attempt may have happened while the token was being fetched.
    if (epoch !== this.epoch || this.currentState === "Disconnected") return;
    const url = new URL(this.options.url);
    if (token) url.searchParams.set("token", token);
    const Factory = this.options.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketFactory);
    let ws: WebSocketLike;
    try {
      ws = new Factory(url.toString());
    } catch (error) {
      this.events.emit("error", { kind: "socket", message: messageOf(error) });
      this.lost(epoch);
      return;
    }
    this.socket = { ws, epoch };
    ws.onopen = () => this.opened(epoch);
    ws.onmessage = (event) => {
      if (epoch === this.epoch && typeof event.data === "string") this.received(event.data, epoch);
    };
    ws.onerror = () => {
      // The close event that follows carries what there is to know.
    };
    ws.onclose = (event) => {
      if (epoch !== this.epoch || this.currentState === "Disconnected") return;
      this.events.emit("error", {
        kind: "socket",
        message: `connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`,
      });
      this.lost(epoch);
    };
  }

  private opened(epoch: number): void {
    if (epoch !== this.epoch || !this.move("opened")) return;
    this.retryCount = 0;
    this.stopPolling();
    this.joinSentAt.clear();
    for (const auctionId of this.joined.keys()) this.sendJoin(auctionId);
    this.pingTimer = setInterval(() => this.ping(), this.options.pingIntervalMs);
  }

  /** The socket of `epoch` is gone (closed, failed to open, or silent): retry on the policy. */
  private lost(epoch: number): void {
    if (epoch !== this.epoch) return;
    const wasConnected = this.currentState === "Connected";
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) {
      // Detach first: the close this causes must not count as a second loss.
      socket.ws.onopen = socket.ws.onclose = socket.ws.onmessage = socket.ws.onerror = null;
      if (socket.ws.readyState <= OPEN) socket.ws.close(4000, "reconnecting");
    }
    this.clearTimers();
    if (!this.move("lost")) return;
    if (wasConnected || this.retryCount === 0) this.lostAtMs = Date.now();
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
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.currentState === "Reconnecting") void this.openSocket();
    }, delay);
  }

  private ping(): void {
    if (this.pongTimer !== undefined) return;
    this.pingSentAtMs = Date.now();
    this.send({ action: "Ping" });
    const epoch = this.epoch;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = undefined;
      this.events.emit("error", { kind: "socket", message: "no Pong: the connection is dead" });
      this.lost(epoch);
    }, this.options.pongTimeoutMs);
  }

  private send(frame: ClientFrame): void {
    const ws = this.socket?.ws;
    if (this.currentState === "Connected" && ws !== undefined && ws.readyState === OPEN) {
      ws.send(JSON.stringify(frame));
    }
  }

  private sendJoin(auctionId: string): void {
    this.joinSentAt.set(auctionId, Date.now());
    this.send({ action: "JoinAuction", auctionId });
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.retryTimer = this.pingTimer = this.pongTimer = undefined;
    this.stopPolling();
  }

  // ---- polling fallback ----

  private startPolling(): void {
    if (this.pollTimer !== undefined) return;
    const tick = () => {
      if (this.currentState !== "Reconnecting") {
        this.pollTimer = undefined;
        return;
      }
      for (const auctionId of this.joined.keys()) void this.pollOnce(auctionId);
      this.pollTimer = setTimeout(tick, this.options.pollIntervalMs);
    };
    tick();
  }

  private stopPolling(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  private async pollOnce(auctionId: string): Promise<void> {
    try {
      await this.fetchAuction(auctionId);
    } catch (error) {
      this.events.emit("error", { kind: "poll", message: messageOf(error), auctionId });
    }
  }

  // ---- frames ----

  private received(text: string, epoch: number): void {
    const frame = parseServerFrame(text);
    if (frame === undefined) return;
    const receivedAt = Date.now();
    this.clock.observeOneWay(frame.sentAt, receivedAt);
    this.handle(frame, epoch, receivedAt);
  }

  private handle(frame: ServerFrame, epoch: number, receivedAt: number): void {
    switch (frame.type) {
      case "AuctionState": {
        const snapshot = frame.data as AuctionSnapshot;
        const sentAt = this.joinSentAt.get(snapshot.auctionId);
        if (sentAt !== undefined) {
          this.clock.observeRoundTrip(Date.parse(snapshot.serverTime), sentAt, receivedAt);
          this.joinSentAt.delete(snapshot.auctionId);
        }
        if (!this.joined.has(snapshot.auctionId)) return;
        this.updateView(applyJoinState(this.views.get(snapshot.auctionId), snapshot, epoch));
        this.events.emit("AuctionState", snapshot);
        return;
      }
      case "PriceUpdated": {
        const data = frame.data as ServerFrameData["PriceUpdated"];
        this.merge(data.auctionId, (view) => applyPriceUpdated(view, data, epoch));
        this.events.emit("PriceUpdated", data);
        return;
      }
      case "ViewerCountUpdated": {
        const data = frame.data as ServerFrameData["ViewerCountUpdated"];
        this.merge(data.auctionId, (view) => applyViewerCount(view, data, frame.sentAt));
        this.events.emit("ViewerCountUpdated", data);
        return;
      }
      case "ItemSold": {
        const data = frame.data as ServerFrameData["ItemSold"];
        this.merge(data.auctionId, (view) => applyItemSold(view, data, epoch));
        this.events.emit("ItemSold", data);
        return;
      }
      case "AuctionEnded": {
        const data = frame.data as ServerFrameData["AuctionEnded"];
        this.merge(data.auctionId, (view) => applyAuctionEnded(view, data));
        this.events.emit("AuctionEnded", data);
        return;
      }
      case "BidAccepted": {
        const data = frame.data as BidAcceptedData;
        this.announceBid(data.auctionId, { status: "Accepted", ...data });
        return;
      }
      case "BidRejected": {
        const data = frame.data as BidRejectedData;
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
        const data = frame.data as ErrorData;
        this.events.emit("error", {
          kind: "server",
          message: data.message,
          ...(data.auctionId === undefined ? {} : { auctionId: data.auctionId }),
          frame: data,
        });
        return;
      }
    }
  }

  private merge(
    auctionId: string,
    apply: (view: AuctionView) => AuctionView | undefined,
  ): void {
    const view = this.views.get(auctionId);
    if (view === undefined) return;
    const next = apply(view);
    if (next !== undefined) this.updateView(next);
  }

  private updateView(view: AuctionView): void {
    this.views.set(view.auctionId, view);
    this.events.emit("auction", view);
  }

  /**
   * Emits a bid's outcome once, whichever of the REST answer and the frame arrives first. An
   * accepted bid also refreshes the auction over HTTP: the buyer's own connections get no
   * `ItemSold`, and counting down locally would double-count against other buyers' frames.
   */
  private announceBid(auctionId: string, outcome: BidOutcome): void {
    if (this.announcedBids.has(outcome.bidId)) return;
    this.announcedBids.add(outcome.bidId);
    if (this.announcedBids.size > REMEMBERED_BIDS) {
      const oldest = this.announcedBids.values().next().value;
      if (oldest !== undefined) this.announcedBids.delete(oldest);
    }
    if (outcome.status === "Accepted") {
      const { status: _status, ...rest } = outcome;
      this.events.emit("BidAccepted", { ...rest, auctionId });
      if (this.joined.has(auctionId)) void this.pollOnce(auctionId);
    } else {
      const { status: _status, ...rest } = outcome;
      this.events.emit("BidRejected", { ...rest, auctionId });
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
