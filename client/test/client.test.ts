import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuctionApiError } from "../src/api.js";
import { AuctionClient, type AuctionClientOptions } from "../src/client.js";
import type { ConnectionState } from "../src/state.js";
import { FakeWebSocket, json, snapshot } from "./fakes.js";

const fetchMock = vi.fn<typeof fetch>();

function client(options: Partial<AuctionClientOptions> = {}): AuctionClient {
  return new AuctionClient({
    url: "ws://auction.test/ws",
    apiBaseUrl: "http://auction.test",
    WebSocket: FakeWebSocket,
    fetch: fetchMock,
    retryPolicy: { nextRetryDelayMs: ({ previousRetryCount }) => [0, 2000, 10_000, 30_000][Math.min(previousRetryCount, 3)] ?? 30_000 },
    ...options,
  });
}

/** Lets pending promises (token factory, fetch bodies) settle under fake timers. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Connects `c` and lets the server accept the upgrade; returns the open socket. */
async function connected(c: AuctionClient): Promise<FakeWebSocket> {
  c.connect();
  await settle();
  const ws = FakeWebSocket.last();
  ws.open();
  return ws;
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-11-27T12:00:00Z") });
  FakeWebSocket.reset();
  fetchMock.mockReset();
  fetchMock.mockImplementation(async () => json(200, snapshot()));
});

afterEach(() => {
  vi.useRealTimers();
});

describe("AuctionClient connection", () => {
  it("walks Connecting → Connected → Reconnecting → Connected → Disconnected", async () => {
    const c = client();
    const states: ConnectionState[] = [];
    c.on("state", (s) => states.push(s));
    c.connect();
    await settle();
    FakeWebSocket.last().open();
    FakeWebSocket.last().drop();
    await vi.advanceTimersByTimeAsync(0);
    FakeWebSocket.last().open();
    c.stop();
    expect(states).toEqual(["Connecting", "Connected", "Reconnecting", "Connected", "Disconnected"]);
  });

  it("asks the token factory before every connect and sends the token as a subprotocol, never in the URL", async () => {
    let n = 0;
    const c = client({ token: async () => `token-${++n}` });
    c.connect();
    await settle();
    expect(FakeWebSocket.last().url).toBe("ws://auction.test/ws");
    expect(FakeWebSocket.last().protocols).toEqual(["auction.v1", "bearer.token-1"]);
    FakeWebSocket.last().open();
    FakeWebSocket.last().drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeWebSocket.last().protocols).toEqual(["auction.v1", "bearer.token-2"]);
  });

  it("puts the token in ?token= with tokenTransport query, and offers no subprotocol without a token", async () => {
    const c = client({ token: () => "t-1", tokenTransport: "query" });
    c.connect();
    await settle();
    expect(FakeWebSocket.last().url).toBe("ws://auction.test/ws?token=t-1");
    expect(FakeWebSocket.last().protocols).toEqual([]);
    c.stop();
    const anonymous = client();
    anonymous.connect();
    await settle();
    expect(FakeWebSocket.last().url).toBe("ws://auction.test/ws");
    expect(FakeWebSocket.last().protocols).toEqual([]);
  });

  it("retries on the policy's schedule and never gives up", async () => {
    const c = client();
    c.connect();
    await settle();
    FakeWebSocket.last().drop(); // the first connect fails: retry at once
    expect(c.state).toBe("Reconnecting");
    const opened = () => FakeWebSocket.instances.length;
    await vi.advanceTimersByTimeAsync(0);
    expect(opened()).toBe(2);
    FakeWebSocket.last().drop();
    await vi.advanceTimersByTimeAsync(1999);
    expect(opened()).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(opened()).toBe(3);
    FakeWebSocket.last().drop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(opened()).toBe(4);
    for (let i = 5; i < 10; i++) {
      FakeWebSocket.last().drop();
      await vi.advanceTimersByTimeAsync(29_999);
      expect(opened()).toBe(i - 1);
      await vi.advanceTimersByTimeAsync(1);
      expect(opened()).toBe(i);
    }
    FakeWebSocket.last().open();
    expect(c.state).toBe("Connected");
    // A later loss starts the schedule again from 0.
    FakeWebSocket.last().drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(opened()).toBe(10);
  });

  it("re-joins every joined auction after a reconnect and takes the fresh AuctionState as truth", async () => {
    const c = client();
    let ws = await connected(c);
    c.join("a1");
    c.join("a2");
    expect(ws.actions()).toEqual([
      { action: "JoinAuction", auctionId: "a1" },
      { action: "JoinAuction", auctionId: "a2" },
    ]);
    ws.push("AuctionState", snapshot({ auctionId: "a1", currentPrice: 90, remainingItems: 3, activeViewers: 4 }));
    expect(c.auction("a1")).toMatchObject({ currentPrice: 90, remainingItems: 3 });
    ws.drop();
    await vi.advanceTimersByTimeAsync(0);
    ws = FakeWebSocket.last();
    ws.open();
    expect(ws.actions()).toEqual([
      { action: "JoinAuction", auctionId: "a1" },
      { action: "JoinAuction", auctionId: "a2" },
    ]);
    ws.push("AuctionState", snapshot({ auctionId: "a1", currentPrice: 85, remainingItems: 1, activeViewers: 9 }));
    expect(c.auction("a1")).toMatchObject({ currentPrice: 85, remainingItems: 1, activeViewers: 9 });
  });

  it("counts joins: the last leave sends LeaveAuction and forgets the auction", async () => {
    const c = client();
    const ws = await connected(c);
    c.join("a1");
    c.join("a1");
    ws.push("AuctionState", snapshot());
    c.leave("a1");
    expect(ws.actions()).toEqual([{ action: "JoinAuction", auctionId: "a1" }]);
    c.leave("a1");
    expect(ws.actions()).toEqual([
      { action: "JoinAuction", auctionId: "a1" },
      { action: "LeaveAuction", auctionId: "a1" },
    ]);
    expect(c.auction("a1")).toBeUndefined();
  });

  it("polls every 5 s while reconnecting and stops once connected", async () => {
    const c = client({ retryPolicy: { nextRetryDelayMs: () => 12_000 } });
    let ws = await connected(c);
    c.join("a1");
    ws.push("AuctionState", snapshot({ currentPrice: 90 }));
    expect(fetchMock).not.toHaveBeenCalled();
    // The server is unreachable for the first two polls.
    fetchMock
      .mockRejectedValueOnce(new TypeError("Failed to fetch"))
      .mockRejectedValueOnce(new TypeError("Failed to fetch"))
      .mockImplementation(async () => json(200, snapshot({ currentPrice: 80, remainingItems: 2 })));
    ws.drop();
    await settle();
    expect(fetchMock).toHaveBeenCalledTimes(1); // at once
    expect(String(fetchMock.mock.calls[0]?.[0])).toBe("http://auction.test/api/auctions/a1");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(FakeWebSocket.instances.length).toBe(1); // the retry waits its 12 s
    await vi.advanceTimersByTimeAsync(5_000);
    expect(fetchMock).toHaveBeenCalledTimes(3);
    expect(c.auction("a1")).toMatchObject({ currentPrice: 80, remainingItems: 2 });
    // That poll answered: the server is back, so the next attempt comes within 0.5 s, not at 12 s.
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeWebSocket.instances.length).toBe(2);
    ws = FakeWebSocket.last();
    ws.open();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it("pings well inside the idle timeout and reconnects when no Pong comes", async () => {
    const c = client();
    const ws = await connected(c);
    await vi.advanceTimersByTimeAsync(240_000);
    expect(ws.actions()).toEqual([{ action: "Ping" }]);
    ws.push("Pong", {});
    await vi.advanceTimersByTimeAsync(240_000);
    expect(ws.actions()).toEqual([{ action: "Ping" }, { action: "Ping" }]);
    await vi.advanceTimersByTimeAsync(5_000); // no Pong this time
    expect(c.state).toBe("Reconnecting");
    await vi.advanceTimersByTimeAsync(1); // the immediate retry (fake timers put a 0 ms timer set during a tick 1 ms later)
    expect(FakeWebSocket.instances.length).toBe(2);
  });

  it("extrapolates the price each second at the server's clock", async () => {
    const c = client();
    const ws = await connected(c);
    c.join("a1");
    // The server's clock is 10 s ahead of ours; the auction started 20 s ago by the server.
    const serverNow = Date.now() + 10_000;
    ws.push(
      "AuctionState",
      snapshot({
        startsAt: new Date(serverNow - 20_000).toISOString(),
        serverTime: new Date(serverNow).toISOString(),
        currentPrice: 80,
        dropsRemaining: 60,
      }),
      serverNow,
    );
    expect(c.clockOffsetMs).toBe(10_000);
    expect(c.display("a1")?.price).toBe(80);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(c.display("a1")?.price).toBe(79);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(c.display("a1")).toMatchObject({ price: 74, dropsRemaining: 54, status: "Active" });
  });

  it("ignores late and duplicated frames", async () => {
    const c = client();
    const ws = await connected(c);
    c.join("a1");
    ws.push("AuctionState", snapshot({ currentPrice: 90, remainingItems: 3 }));
    ws.push("PriceUpdated", { auctionId: "a1", currentPrice: 85, currency: "EUR", dropsRemaining: 65 });
    ws.push("PriceUpdated", { auctionId: "a1", currentPrice: 88, currency: "EUR", dropsRemaining: 68 });
    ws.push("ItemSold", { auctionId: "a1", remainingItems: 1 });
    ws.push("AuctionEnded", { auctionId: "a1", reason: "FloorReached" });
    ws.push("ItemSold", { auctionId: "a1", remainingItems: 2 });
    ws.push("ItemSold", { auctionId: "a1", remainingItems: 0 });
    ws.push("not json" as never, {} as never);
    expect(c.auction("a1")).toMatchObject({ currentPrice: 85, remainingItems: 0, status: "Ended", endReason: "FloorReached" });
  });
});

describe("AuctionClient bids", () => {
  const accepted = {
    bidId: "b-1",
    status: "Accepted",
    winningPrice: 90,
    reservationId: "r-1",
    expiresAt: "2026-11-27T12:10:00Z",
  };

  it("tracks the won hold: confirm pays for it, a lapse or a late confirm expires it", async () => {
    const c = client({ newBidId: () => "b-1" });
    const ws = await connected(c);
    c.join("a1");
    ws.push("AuctionState", snapshot());
    const states: string[] = [];
    c.on("reservation", (r) => states.push(`${r.reservationId}:${r.state}`));
    fetchMock.mockResolvedValueOnce(json(201, accepted));
    await c.placeBid("a1", 91);
    expect(c.reservation("r-1")).toMatchObject({ auctionId: "a1", state: "Held", expiresAtMs: Date.parse(accepted.expiresAt) });
    const confirmed = {
      reservationId: "r-1",
      auctionId: "a1",
      bidId: "b-1",
      state: "Confirmed",
      winningPrice: 90,
      currency: "EUR",
      expiresAt: accepted.expiresAt,
      confirmedAt: "2026-11-27T12:01:00Z",
    };
    fetchMock.mockResolvedValueOnce(json(503, { status: 503 })).mockResolvedValueOnce(json(200, confirmed));
    const paying = c.confirm("r-1");
    await vi.advanceTimersByTimeAsync(1_000); // the retry after the 503
    await expect(paying).resolves.toMatchObject({ state: "Confirmed" });
    const confirmCalls = fetchMock.mock.calls.filter((call) => String(call[0]).endsWith("/api/reservations/r-1/confirm"));
    expect(confirmCalls.map((call) => call[1]?.method)).toEqual(["POST", "POST"]);
    // Final: a late ReservationExpired does not undo a confirmation.
    ws.push("ReservationExpired", { reservationId: "r-1", auctionId: "a1" });
    expect(c.reservation("r-1")?.state).toBe("Confirmed");

    // A second hold lapses: the frame expires it, and so does a confirm answered 409.
    fetchMock.mockResolvedValueOnce(json(201, { ...accepted, bidId: "b-2", reservationId: "r-2" }));
    await c.placeBid("a1", 91, { bidId: "b-2" });
    ws.push("ReservationExpired", { reservationId: "r-2", auctionId: "a1" });
    expect(c.reservation("r-2")?.state).toBe("Expired");
    fetchMock.mockResolvedValueOnce(json(201, { ...accepted, bidId: "b-3", reservationId: "r-3" }));
    await c.placeBid("a1", 91, { bidId: "b-3" });
    fetchMock.mockResolvedValueOnce(json(409, { status: 409, title: "Expired", code: "Expired" }));
    await expect(c.confirm("r-3")).resolves.toMatchObject({ state: "Expired" });
    // Paid in another tab: this one hears ReservationConfirmed.
    fetchMock.mockResolvedValueOnce(json(201, { ...accepted, bidId: "b-4", reservationId: "r-4" }));
    await c.placeBid("a1", 91, { bidId: "b-4" });
    ws.push("ReservationConfirmed", { reservationId: "r-4", auctionId: "a1" });
    expect(states).toEqual([
      "r-1:Held",
      "r-1:Confirmed",
      "r-2:Held",
      "r-2:Expired",
      "r-3:Held",
      "r-3:Expired",
      "r-4:Held",
      "r-4:Confirmed",
    ]);
    expect(c.reservations("a1").map((r) => r.state)).toEqual(["Confirmed", "Expired", "Expired", "Confirmed"]);
  });

  it("retries network errors and 5xx with the same bidId", async () => {
    fetchMock
      .mockRejectedValueOnce(new TypeError("network down"))
      .mockResolvedValueOnce(json(503, { status: 503, title: "unavailable" }))
      .mockResolvedValueOnce(json(201, accepted));
    const c = client({ newBidId: () => "b-1" });
    const outcome = c.placeBid("a1", 91);
    await vi.runAllTimersAsync();
    await expect(outcome).resolves.toEqual(accepted);
    const bodies = fetchMock.mock.calls.map((call) => JSON.parse(String(call[1]?.body)));
    expect(bodies).toEqual([
      { bidPrice: 91, bidId: "b-1" },
      { bidPrice: 91, bidId: "b-1" },
      { bidPrice: 91, bidId: "b-1" },
    ]);
    expect(fetchMock.mock.calls[0]?.[1]?.method).toBe("POST");
  });

  it("waits Retry-After on 429 before retrying", async () => {
    fetchMock
      .mockResolvedValueOnce(json(429, { status: 429, code: "RateLimited" }, { "retry-after": "2" }))
      .mockResolvedValueOnce(json(201, accepted));
    const c = client({ newBidId: () => "b-1" });
    const outcome = c.placeBid("a1", 91);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(outcome).resolves.toMatchObject({ status: "Accepted" });
  });

  it("returns a rejection and throws other errors without retrying", async () => {
    fetchMock.mockResolvedValueOnce(
      json(409, { bidId: "b-2", status: "Rejected", reason: "PriceTooLow", currentPrice: 95 }),
    );
    const c = client({ token: () => "jwt" });
    await expect(c.placeBid("a1", 91, { bidId: "b-2" })).resolves.toMatchObject({ reason: "PriceTooLow" });
    expect(new Headers(fetchMock.mock.calls[0]?.[1]?.headers).get("authorization")).toBe("Bearer jwt");
    fetchMock.mockResolvedValueOnce(json(403, { status: 403, title: "Forbidden", code: "Forbidden" }));
    const error = await c.placeBid("a1", 91).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuctionApiError);
    expect((error as AuctionApiError).status).toBe(403);
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it("announces BidAccepted once per bidId, whether the REST answer or the frame comes first", async () => {
    const c = client({ newBidId: () => "b-1" });
    const ws = await connected(c);
    c.join("a1");
    ws.push("AuctionState", snapshot());
    const seen: string[] = [];
    c.on("BidAccepted", (data) => seen.push(data.bidId));
    fetchMock.mockResolvedValueOnce(json(201, accepted));
    await c.placeBid("a1", 91);
    const { status: _status, ...frame } = accepted;
    ws.push("BidAccepted", { ...frame, auctionId: "a1" });
    ws.push("BidAccepted", { ...frame, auctionId: "a1" });
    expect(seen).toEqual(["b-1"]);
  });
});

describe("AuctionClient liveness", () => {
  it("goes stale after twice the announced cadence without a frame, Pings at once, and is live again on Pong", async () => {
    const c = client();
    const seen: string[] = [];
    c.on("liveness", (l) => seen.push(l));
    const ws = await connected(c);
    c.join("a1");
    ws.push("AuctionState", snapshot({ pushIntervalSeconds: 1 }));
    expect(c.liveness).toBe("live");
    expect(c.canBid("a1")).toBe(true);
    await vi.advanceTimersByTimeAsync(1_900);
    expect(c.liveness).toBe("live");
    expect(ws.actions()).toEqual([{ action: "JoinAuction", auctionId: "a1" }]);
    await vi.advanceTimersByTimeAsync(350);
    expect(c.liveness).toBe("stale");
    expect(c.canBid("a1")).toBe(false);
    expect(ws.actions().at(-1)).toEqual({ action: "Ping" });
    ws.push("Pong", {});
    expect(c.liveness).toBe("live");
    expect(seen).toEqual(["live", "stale", "live"]);
  });

  it("counts the connection lost when the silence Ping gets no Pong within 5 s, then offline while polls fail", async () => {
    const c = client({ retryPolicy: { nextRetryDelayMs: () => 30_000 } });
    const ws = await connected(c);
    c.join("a1");
    ws.push("AuctionState", snapshot({ pushIntervalSeconds: 2 }));
    fetchMock.mockRejectedValue(new TypeError("Failed to fetch"));
    await vi.advanceTimersByTimeAsync(4_250);
    expect(c.liveness).toBe("stale");
    await vi.advanceTimersByTimeAsync(4_900);
    expect(c.state).toBe("Connected");
    await vi.advanceTimersByTimeAsync(200);
    expect(c.state).toBe("Reconnecting");
    expect(c.liveness).toBe("offline");
  });

  it("any frame answers for the connection, and no cadence (nothing active) means no silence limit", async () => {
    const c = client();
    const ws = await connected(c);
    c.join("a1");
    ws.push("AuctionState", snapshot({ status: "Ended", endReason: "SoldOut", pushIntervalSeconds: 1 }));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(c.liveness).toBe("live");
    expect(ws.actions()).toEqual([{ action: "JoinAuction", auctionId: "a1" }]);
    expect(c.canBid("a1")).toBe(false); // ended
  });

  it("is stale while the socket is down but polls answer, offline once they stop answering", async () => {
    const c = client({ retryPolicy: { nextRetryDelayMs: () => 60_000 } });
    const ws = await connected(c);
    c.join("a1");
    ws.push("AuctionState", snapshot());
    ws.drop();
    await vi.advanceTimersByTimeAsync(1);
    expect(c.state).toBe("Reconnecting");
    expect(c.liveness).toBe("stale"); // the poll at the loss answered
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeWebSocket.instances.length).toBe(2); // that answer brought the next attempt forward
    FakeWebSocket.last().drop(); // which fails too
    fetchMock.mockRejectedValue(new TypeError("Failed to fetch"));
    await vi.advanceTimersByTimeAsync(9_500);
    expect(c.liveness).toBe("offline");
  });

  it("gives up on a socket that does not open within 10 s and tries again", async () => {
    const c = client({ retryPolicy: { nextRetryDelayMs: () => 1_000 } });
    c.connect();
    await settle();
    expect(FakeWebSocket.instances.length).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(c.state).toBe("Reconnecting");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(FakeWebSocket.instances.length).toBe(2);
  });

  it("gives a poll that gets no answer up after 4 s", async () => {
    const c = client();
    const errors: string[] = [];
    c.on("error", (e) => errors.push(`${e.kind}: ${e.message}`));
    fetchMock.mockImplementation(() => new Promise<Response>(() => {}));
    c.join("a1");
    await vi.advanceTimersByTimeAsync(4_000);
    expect(errors).toEqual(["poll: no answer within 4 s"]);
  });
});

describe("AuctionClient join states", () => {
  it("a NotFound join makes the auction gone: not re-joined after a reconnect, not polled", async () => {
    const c = client();
    const states: string[] = [];
    c.on("join", (s) => states.push(s.status));
    let ws = await connected(c);
    c.join("a1");
    ws.push("Error", { action: "JoinAuction", code: "NotFound", message: "no such auction", auctionId: "a1" });
    expect(c.joinState("a1")).toMatchObject({ status: "gone", error: { frame: { code: "NotFound" } } });
    expect(states).toEqual(["joining", "gone"]);
    ws.drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchMock).not.toHaveBeenCalled();
    ws = FakeWebSocket.last();
    ws.open();
    expect(ws.actions()).toEqual([]);
    expect(c.canBid("a1")).toBe(false);
  });

  it("a 404 poll makes the auction gone", async () => {
    fetchMock.mockResolvedValue(json(404, { status: 404, title: "Not Found", detail: "no such auction" }));
    const c = client();
    c.join("a1");
    await vi.advanceTimersByTimeAsync(1);
    expect(c.joinState("a1")).toMatchObject({ status: "gone", error: { kind: "poll" } });
  });

  it("an Unauthorized join is refused until the next connection, which joins again", async () => {
    const c = client();
    let ws = await connected(c);
    c.join("a1");
    ws.push("Error", { action: "JoinAuction", code: "Unauthorized", message: "another tenant's auction", auctionId: "a1" });
    expect(c.joinState("a1")?.status).toBe("refused");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ws.actions().filter((a) => (a as { action: string }).action === "JoinAuction")).toHaveLength(1);
    ws.drop();
    await vi.advanceTimersByTimeAsync(0);
    ws = FakeWebSocket.last();
    ws.open();
    expect(ws.actions()).toEqual([{ action: "JoinAuction", auctionId: "a1" }]);
    expect(c.joinState("a1")?.status).toBe("joining");
  });

  it("a RateLimited or InternalError join is retried with backoff until it is joined", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const c = client();
    const ws = await connected(c);
    c.join("a1");
    ws.push("Error", { action: "JoinAuction", code: "RateLimited", message: "slow down", auctionId: "a1" });
    expect(c.joinState("a1")).toMatchObject({ status: "joining", error: { frame: { code: "RateLimited" } } });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(ws.actions()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(ws.actions()).toHaveLength(2);
    ws.push("Error", { action: "JoinAuction", code: "InternalError", message: "try again", auctionId: "a1" });
    await vi.advanceTimersByTimeAsync(4_000);
    expect(ws.actions()).toHaveLength(3);
    ws.push("AuctionState", snapshot());
    expect(c.joinState("a1")).toEqual({ auctionId: "a1", status: "joined" });
    vi.restoreAllMocks();
  });
});
