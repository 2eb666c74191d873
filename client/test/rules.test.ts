import { describe, expect, it } from "vitest";
import { livenessAt } from "../src/liveness.js";
import { ClockSync, scheduledPrice } from "../src/price.js";
import { defaultRetryPolicy } from "../src/retry.js";
import { type ConnectionEvent, type ConnectionState, transition } from "../src/state.js";
import {
  applyAuctionEnded,
  applyItemReleased,
  applyItemSold,
  applyJoinState,
  applyPolledSnapshot,
  applyPriceUpdated,
  applyViewerCount,
  displayAt,
  viewFromSnapshot,
} from "../src/view.js";
import { snapshot } from "./fakes.js";

describe("defaultRetryPolicy", () => {
  const at = (policy: ReturnType<typeof defaultRetryPolicy>, count: number) =>
    policy.nextRetryDelayMs({ previousRetryCount: count, elapsedMs: 0 });

  it("follows 0 / 2 / 10 / 30 s and then retries every 30 s for ever", () => {
    const policy = defaultRetryPolicy({ jitterRatio: 0, immediateSpreadMs: 0 });
    expect([0, 1, 2, 3, 4, 5, 100, 10_000].map((n) => at(policy, n))).toEqual([
      0, 2000, 10_000, 30_000, 30_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("keeps jittered delays within base × (1 ± ratio), reaching both ends", () => {
    const low = defaultRetryPolicy({ jitterRatio: 0.2, random: () => 0 });
    const high = defaultRetryPolicy({ jitterRatio: 0.2, random: () => 0.999_999 });
    expect([1, 2, 3].map((n) => at(low, n))).toEqual([1600, 8000, 24_000]);
    expect([1, 2, 3].map((n) => at(high, n))).toEqual([2400, 12_000, 36_000]);
    const random = defaultRetryPolicy();
    for (let i = 0; i < 1000; i++) {
      const delay = at(random, 3);
      expect(delay).toBeGreaterThanOrEqual(24_000);
      expect(delay).toBeLessThanOrEqual(36_000);
    }
  });

  it("spreads the immediate retry so a restart does not bring everyone back at once", () => {
    const policy = defaultRetryPolicy();
    const delays = Array.from({ length: 500 }, () => at(policy, 0) ?? -1);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(500);
    expect(new Set(delays).size).toBeGreaterThan(50);
  });

  it("never gives up and rejects nonsense options", () => {
    const policy = defaultRetryPolicy();
    expect(at(policy, 1e9)).not.toBeNull();
    expect(() => defaultRetryPolicy({ delaysMs: [] })).toThrow(RangeError);
    expect(() => defaultRetryPolicy({ jitterRatio: 1 })).toThrow(RangeError);
  });
});

describe("the connection state machine", () => {
  const states: ConnectionState[] = ["Disconnected", "Connecting", "Connected", "Reconnecting"];
  const events: ConnectionEvent[] = ["connect", "opened", "lost", "stop"];
  const expected: Record<ConnectionState, Record<ConnectionEvent, ConnectionState | undefined>> = {
    Disconnected: { connect: "Connecting", opened: undefined, lost: undefined, stop: "Disconnected" },
    Connecting: { connect: undefined, opened: "Connected", lost: "Reconnecting", stop: "Disconnected" },
    Connected: { connect: undefined, opened: undefined, lost: "Reconnecting", stop: "Disconnected" },
    Reconnecting: {
      connect: undefined,
      opened: "Connected",
      lost: "Reconnecting",
      stop: "Disconnected",
    },
  };
  for (const state of states) {
    for (const event of events) {
      it(`${state} --${event}--> ${expected[state][event] ?? "(ignored)"}`, () => {
        expect(transition(state, event)).toBe(expected[state][event]);
      });
    }
  }
});

describe("price extrapolation", () => {
  const schedule = {
    currency: "EUR",
    startPrice: 100,
    floorPrice: 99,
    priceDrop: 0.1,
    dropIntervalSeconds: 2,
    startsAtMs: 1_000_000,
  };

  it("computes the schedule in minor units, exact and floored", () => {
    expect(scheduledPrice(schedule, 999_000)).toEqual({ price: 100, dropsRemaining: 10 });
    expect(scheduledPrice(schedule, 1_000_000 + 5_999)).toEqual({ price: 99.8, dropsRemaining: 8 });
    expect(scheduledPrice(schedule, 1_000_000 + 6_000)).toEqual({ price: 99.7, dropsRemaining: 7 });
    expect(scheduledPrice(schedule, 1_000_000 + 3_600_000)).toEqual({ price: 99, dropsRemaining: 0 });
  });

  it("knows currencies without minor units", () => {
    const yen = { ...schedule, currency: "JPY", startPrice: 1000, floorPrice: 500, priceDrop: 7 };
    expect(scheduledPrice(yen, 1_000_000 + 2_000)).toEqual({ price: 993, dropsRemaining: 71 });
  });

  it("estimates the clock offset from the round trip with the smallest RTT", () => {
    const clock = new ClockSync();
    expect(clock.offsetMs).toBe(0);
    clock.observeRoundTrip(10_500, 0, 400); // offset 10 300 ± 200
    clock.observeRoundTrip(10_160, 100, 120); // offset 10 050 ± 10: the better sample
    clock.observeRoundTrip(11_000, 200, 900);
    expect(clock.offsetMs).toBe(10_050);
    expect(clock.serverNow(1_000)).toBe(11_050);
  });

  it("raises the estimate to what a one-way frame proves", () => {
    const clock = new ClockSync();
    clock.observeRoundTrip(5_000, 0, 0);
    clock.observeOneWay(7_000, 1_000); // the server was at 7 000 when we were at ≤ 1 000
    expect(clock.offsetMs).toBe(6_000);
    clock.observeOneWay(5_500, 1_000); // a weaker bound changes nothing
    expect(clock.offsetMs).toBe(6_000);
  });

  it("displays the scheduled price at the server's clock, never above a reported price", () => {
    const view = viewFromSnapshot(
      snapshot({ startsAt: new Date(0).toISOString(), currentPrice: 95, serverTime: new Date(0).toISOString() }),
      1,
    );
    expect(displayAt(view, 3_000).price).toBe(95); // the schedule says 97; the server said 95
    expect(displayAt(view, 10_000).price).toBe(90);
    expect(displayAt(view, 10_000).dropsRemaining).toBe(70);
    const ended = applyAuctionEnded(view, { auctionId: "a1", reason: "Cancelled" });
    expect(ended && displayAt(ended, 60_000)).toEqual({ price: 95, dropsRemaining: 80, status: "Ended" });
  });
});

describe("merging frames", () => {
  const base = () => viewFromSnapshot(snapshot({ currentPrice: 90, remainingItems: 3 }), 1);

  it("ignores a price that is not lower (late or duplicated)", () => {
    const view = base();
    expect(applyPriceUpdated(view, { auctionId: "a1", currentPrice: 95, currency: "EUR", dropsRemaining: 75 }, 1)).toBeUndefined();
    expect(applyPriceUpdated(view, { auctionId: "a1", currentPrice: 90, currency: "EUR", dropsRemaining: 70 }, 1)).toBeUndefined();
    expect(applyPriceUpdated(view, { auctionId: "a1", currentPrice: 85, currency: "EUR", dropsRemaining: 65 }, 1)?.currentPrice).toBe(85);
  });

  it("takes a large group's cadence and viewer count from PriceUpdated, whatever the price", () => {
    const view = base();
    const slower = applyPriceUpdated(
      view,
      { auctionId: "a1", currentPrice: 95, currency: "EUR", dropsRemaining: 75, pushIntervalSeconds: 30, activeViewers: 12_000 },
      1,
      view.activeViewersAtMs + 1,
    );
    expect(slower).toMatchObject({ currentPrice: 90, pushIntervalSeconds: 30, activeViewers: 12_000 });
    // An older count riding along does not replace a newer one.
    const older = applyPriceUpdated(
      slower!,
      { auctionId: "a1", currentPrice: 89, currency: "EUR", dropsRemaining: 74, pushIntervalSeconds: 30, activeViewers: 11_000 },
      1,
      view.activeViewersAtMs,
    );
    expect(older).toMatchObject({ currentPrice: 89, activeViewers: 12_000 });
  });

  it("keeps the lowest item count, also when ItemSold arrives after AuctionEnded", () => {
    const ended = applyAuctionEnded(base(), { auctionId: "a1", reason: "FloorReached" });
    expect(ended?.status).toBe("Ended");
    const sold = ended && applyItemSold(ended, { auctionId: "a1", remainingItems: 2 }, 1);
    expect(sold).toMatchObject({ status: "Ended", endReason: "FloorReached", remainingItems: 2 });
    expect(sold && applyItemSold(sold, { auctionId: "a1", remainingItems: 3 }, 1)).toBeUndefined();
    expect(sold && applyAuctionEnded(sold, { auctionId: "a1", reason: "SoldOut" })).toBeUndefined();
  });

  it("counts by the largest soldItems and releasedItems seen, so a release raises the items left in any order", () => {
    // 5 items: 3 sold, none released → 2 left.
    const view = viewFromSnapshot(snapshot({ remainingItems: 2, soldItems: 3, releasedItems: 0, heldItems: 3 }), 1);
    const released = applyItemReleased(view, { auctionId: "a1", remainingItems: 3, soldItems: 3, releasedItems: 1 }, 1);
    expect(released).toMatchObject({ remainingItems: 3, soldItems: 3, releasedItems: 1 });
    // An ItemSold read before the release arrives after it: it changes nothing.
    expect(released && applyItemSold(released, { auctionId: "a1", remainingItems: 2, soldItems: 3, releasedItems: 0 }, 1)).toBeUndefined();
    // The next sale, then the release it raced with, in the wrong order: 5 − 4 + 1 = 2 either way.
    const sold = applyItemSold(view, { auctionId: "a1", remainingItems: 1, soldItems: 4, releasedItems: 0 }, 1);
    const both = sold && applyItemReleased(sold, { auctionId: "a1", remainingItems: 3, soldItems: 3, releasedItems: 1 }, 1);
    expect(both).toMatchObject({ remainingItems: 2, soldItems: 4, releasedItems: 1 });
    // A polled or re-joined snapshot never takes the counts back either.
    expect(both && applyPolledSnapshot(both, snapshot({ remainingItems: 2, soldItems: 3, releasedItems: 0 }))).toMatchObject({
      remainingItems: 2,
      soldItems: 4,
      releasedItems: 1,
    });
    // Every item held: Active with nothing left; a lapse brings one back.
    const held = viewFromSnapshot(snapshot({ remainingItems: 0, soldItems: 5, releasedItems: 0, heldItems: 5 }), 1);
    expect(displayAt(held, Date.now()).status).toBe("Active");
    expect(applyItemReleased(held, { auctionId: "a1", remainingItems: 1, soldItems: 5, releasedItems: 1 }, 1)?.remainingItems).toBe(1);
  });

  it("takes an older server's ItemReleased count as it comes", () => {
    const view = base();
    expect(applyItemReleased(view, { auctionId: "a1", remainingItems: 4 }, 1)?.remainingItems).toBe(4);
  });

  it("never replaces a viewer count with an older one", () => {
    const view = base();
    const newer = applyViewerCount(view, { auctionId: "a1", activeViewers: 7 }, view.activeViewersAtMs + 10_000);
    expect(newer?.activeViewers).toBe(7);
    expect(newer && applyViewerCount(newer, { auctionId: "a1", activeViewers: 4 }, view.activeViewersAtMs + 5_000)).toBeUndefined();
  });

  it("merges a polled snapshot without moving backwards", () => {
    const view = base();
    const polled = applyPolledSnapshot(view, snapshot({ currentPrice: 92, remainingItems: 4, activeViewers: 9 }));
    expect(polled).toMatchObject({ currentPrice: 90, remainingItems: 3, activeViewers: 9 });
    const ended = applyAuctionEnded(view, { auctionId: "a1", reason: "SoldOut" });
    expect(ended && applyPolledSnapshot(ended, snapshot({ status: "Active" })).status).toBe("Ended");
  });

  it("takes a re-join's AuctionState as the truth, keeping what the same connection lowered since", () => {
    const before = base(); // connection 1
    const rejoined = applyJoinState(before, snapshot({ currentPrice: 99, remainingItems: 5, activeViewers: 12 }), 2);
    expect(rejoined).toMatchObject({ currentPrice: 99, remainingItems: 5, activeViewers: 12, epoch: 2 });
    const lowered = applyPriceUpdated(rejoined, { auctionId: "a1", currentPrice: 80, currency: "EUR", dropsRemaining: 60 }, 2);
    const late = lowered && applyJoinState(lowered, snapshot({ currentPrice: 99 }), 2);
    expect(late?.currentPrice).toBe(80);
  });
});

describe("livenessAt", () => {
  const base = {
    state: "Connected" as ConnectionState,
    nowMs: 100_000,
    lastFrameAtMs: 95_000,
    silenceLimitMs: 10_000 as number | undefined,
    lastPollOkAtMs: Number.NEGATIVE_INFINITY,
    pollFreshMs: 9_000,
  };
  it("is live on an open socket heard from within the limit, or with no limit", () => {
    expect(livenessAt(base)).toBe("live");
    expect(livenessAt({ ...base, lastFrameAtMs: 0, silenceLimitMs: undefined })).toBe("live");
  });
  it("is stale on an open socket silent past the limit", () => {
    expect(livenessAt({ ...base, lastFrameAtMs: 89_999 })).toBe("stale");
  });
  it("is stale while reconnecting with a fresh poll, offline without one", () => {
    for (const state of ["Connecting", "Reconnecting"] as const) {
      expect(livenessAt({ ...base, state, lastPollOkAtMs: 91_000 })).toBe("stale");
      expect(livenessAt({ ...base, state, lastPollOkAtMs: 90_999 })).toBe("offline");
      expect(livenessAt({ ...base, state })).toBe("offline");
    }
  });
  it("is offline when disconnected, whatever the polls said", () => {
    expect(livenessAt({ ...base, state: "Disconnected", lastPollOkAtMs: 100_000 })).toBe("offline");
  });
});
