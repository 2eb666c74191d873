// @vitest-environment happy-dom
import { act, createElement } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuctionClient } from "../src/client.js";
import { AuctionClientProvider, type UseAuction, useAuction } from "../src/react.js";
import { FakeWebSocket, json, snapshot } from "./fakes.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const fetchMock = vi.fn<typeof fetch>();
let root: Root;
let container: HTMLElement;
let latest: UseAuction | undefined;

function Probe(props: { auctionId: string }) {
  latest = useAuction(props.auctionId);
  return createElement("output", null, `${latest.connectionState} ${latest.currentPrice ?? "-"}`);
}

function render(client: AuctionClient, auctionId = "a1") {
  act(() => {
    root.render(createElement(AuctionClientProvider, { client }, createElement(Probe, { auctionId })));
  });
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-11-27T12:00:00Z") });
  FakeWebSocket.reset();
  fetchMock.mockReset();
  container = document.createElement("div");
  root = createRoot(container);
  latest = undefined;
});

afterEach(() => {
  act(() => root.unmount());
  vi.useRealTimers();
});

describe("useAuction", () => {
  it("joins on mount, follows the price each second, and leaves on unmount", async () => {
    const client = new AuctionClient({
      url: "ws://auction.test/ws",
      apiBaseUrl: "http://auction.test",
      WebSocket: FakeWebSocket,
      fetch: fetchMock,
    });
    client.connect();
    await act(async () => {});
    const ws = FakeWebSocket.last();
    act(() => ws.open());
    render(client);
    expect(ws.actions()).toEqual([{ action: "JoinAuction", auctionId: "a1" }]);
    expect(latest?.connectionState).toBe("Connected");
    expect(latest?.currentPrice).toBeUndefined();

    act(() => ws.push("AuctionState", snapshot({ currentPrice: 100, activeViewers: 3, remainingItems: 4 })));
    expect(latest).toMatchObject({ currentPrice: 100, activeViewers: 3, remainingItems: 4, status: "Active" });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2_000);
    });
    expect(latest?.currentPrice).toBe(98);
    expect(container.textContent).toBe("Connected 98");

    act(() => ws.push("ItemSold", { auctionId: "a1", remainingItems: 2 }));
    expect(latest?.remainingItems).toBe(2);
    expect(latest).toMatchObject({ liveness: "live", join: { status: "joined" }, canBid: true });

    // Silence past twice the cadence: stale, and no Buy.
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2_250);
    });
    expect(latest).toMatchObject({ liveness: "stale", canBid: false });

    fetchMock.mockRejectedValue(new TypeError("Failed to fetch"));
    act(() => ws.drop());
    expect(latest?.isConnected).toBe(false);
    expect(latest?.connectionState).toBe("Reconnecting");
    expect(latest).toMatchObject({ liveness: "offline", canBid: false });

    // The re-join finds the auction gone.
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1_000);
    });
    const next = FakeWebSocket.last();
    act(() => next.open());
    act(() => next.push("Error", { action: "JoinAuction", code: "NotFound", message: "no such auction", auctionId: "a1" }));
    expect(latest?.join).toMatchObject({ status: "gone" });

    act(() => root.render(createElement("div")));
    expect(client.joinedAuctions()).toEqual([]);
  });

  it("places bids and exposes the outcome and errors", async () => {
    const client = new AuctionClient({
      url: "ws://auction.test/ws",
      apiBaseUrl: "http://auction.test",
      WebSocket: FakeWebSocket,
      fetch: fetchMock,
      newBidId: () => "b-9",
    });
    fetchMock.mockResolvedValueOnce(json(200, snapshot()));
    render(client);
    await act(async () => {});
    fetchMock.mockResolvedValueOnce(
      json(201, { bidId: "b-9", status: "Accepted", winningPrice: 99, reservationId: "r-9", expiresAt: "2026-11-27T12:10:00Z" }),
    );
    fetchMock.mockResolvedValueOnce(json(200, snapshot({ remainingItems: 4 })));
    await act(async () => {
      await latest?.placeBid(99);
    });
    expect(latest?.lastBid).toMatchObject({ status: "Accepted", reservationId: "r-9", auctionId: "a1" });
    fetchMock.mockResolvedValueOnce(json(401, { status: 401, title: "Unauthorized" }));
    await act(async () => {
      await latest?.placeBid(99).catch(() => undefined);
    });
    expect(latest?.lastError).toMatchObject({ status: 401 });
  });
});
