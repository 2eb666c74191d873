/**
 * What a client knows about one auction, and the rules that merge frames and polls into it.
 *
 * During an auction `currentPrice` only goes down, and `soldItems` and `releasedItems` only go up
 * (docs/protocol.md section 4), so a late or duplicated frame can never move the display
 * backwards: the lowest price and the largest counts seen win, and the items left are
 * `totalItems - soldItems + releasedItems` (a lapsed hold returns its item, so that number can
 * rise). An older server sends no counts; then the lowest `remainingItems` seen wins. The status
 * only moves forward (Scheduled → Active → Ended). The `AuctionState` a (re)join returns is the
 * truth and replaces what was held before — except values that frames on the same connection
 * have already moved after the join was sent, which are newer than the snapshot.
 */

import type {
  AuctionEndedData,
  AuctionSnapshot,
  AuctionStatus,
  EndReason,
  ItemCounts,
  ItemReleasedData,
  ItemSoldData,
  PriceUpdatedData,
  ViewerCountUpdatedData,
} from "./protocol.js";
import { type PriceSchedule, scheduledPrice } from "./price.js";

/** One auction as the client shows it. */
export interface AuctionView extends PriceSchedule {
  auctionId: string;
  tenantId: string;
  title: string;
  status: AuctionStatus;
  endReason: EndReason | null;
  /** The lowest price the server has reported. */
  currentPrice: number;
  dropsRemaining: number;
  totalItems: number;
  /** Items a bid can take: `totalItems - soldItems + releasedItems`, or (older servers) the lowest count reported. */
  remainingItems: number;
  /** The largest sale count reported (`undefined`: the server sends none). */
  soldItems: number | undefined;
  /** The largest release count reported (`undefined`: the server sends none). */
  releasedItems: number | undefined;
  activeViewers: number;
  /** `sentAt` of the viewer count shown, so that an older count never replaces a newer one. */
  activeViewersAtMs: number;
  /** The connection (see `AuctionClient`) whose frames last lowered price or items; 0 = a poll. */
  epoch: number;
  /** The cadence the server announced (snapshot `pushIntervalSeconds`), if it did. */
  pushIntervalSeconds: number | undefined;
}

const STATUS_ORDER: Record<AuctionStatus, number> = { Scheduled: 0, Active: 1, Ended: 2 };

function laterStatus(a: AuctionStatus, b: AuctionStatus): AuctionStatus {
  return STATUS_ORDER[b] > STATUS_ORDER[a] ? b : a;
}

/** A view built from a snapshot alone. */
export function viewFromSnapshot(snapshot: AuctionSnapshot, epoch: number): AuctionView {
  return {
    auctionId: snapshot.auctionId,
    tenantId: snapshot.tenantId,
    title: snapshot.title,
    status: snapshot.status,
    endReason: snapshot.endReason,
    currency: snapshot.currency,
    startPrice: snapshot.startPrice,
    floorPrice: snapshot.floorPrice,
    priceDrop: snapshot.priceDrop,
    dropIntervalSeconds: snapshot.dropIntervalSeconds,
    startsAtMs: Date.parse(snapshot.startsAt),
    currentPrice: snapshot.currentPrice,
    dropsRemaining: snapshot.dropsRemaining,
    totalItems: snapshot.totalItems,
    remainingItems: snapshot.remainingItems,
    soldItems: snapshot.soldItems,
    releasedItems: snapshot.soldItems === undefined ? undefined : (snapshot.releasedItems ?? 0),
    activeViewers: snapshot.activeViewers,
    activeViewersAtMs: Date.parse(snapshot.serverTime),
    epoch,
    pushIntervalSeconds:
      typeof snapshot.pushIntervalSeconds === "number" && snapshot.pushIntervalSeconds > 0
        ? snapshot.pushIntervalSeconds
        : undefined,
  };
}

/**
 * Applies the `AuctionState` that answered a join on connection `epoch`: the truth, except what
 * frames of that same connection lowered after the join.
 */
export function applyJoinState(
  previous: AuctionView | undefined,
  snapshot: AuctionSnapshot,
  epoch: number,
): AuctionView {
  const fresh = viewFromSnapshot(snapshot, epoch);
  if (previous === undefined || previous.epoch !== epoch) return fresh;
  return {
    ...fresh,
    status: laterStatus(fresh.status, previous.status),
    endReason: fresh.endReason ?? previous.endReason,
    currentPrice: Math.min(fresh.currentPrice, previous.currentPrice),
    dropsRemaining: Math.min(fresh.dropsRemaining, previous.dropsRemaining),
    ...mergedCounts(previous, fresh),
  };
}

/** Merges a polled snapshot (`GET /api/auctions/{id}`): nothing moves backwards. */
export function applyPolledSnapshot(
  previous: AuctionView | undefined,
  snapshot: AuctionSnapshot,
): AuctionView {
  const polled = viewFromSnapshot(snapshot, 0);
  if (previous === undefined) return polled;
  const newerCount = polled.activeViewersAtMs >= previous.activeViewersAtMs;
  const status = laterStatus(previous.status, polled.status);
  return {
    ...polled,
    status,
    endReason: status === "Ended" ? (previous.endReason ?? polled.endReason) : null,
    currentPrice: Math.min(previous.currentPrice, polled.currentPrice),
    dropsRemaining: Math.min(previous.dropsRemaining, polled.dropsRemaining),
    ...mergedCounts(previous, polled),
    activeViewers: newerCount ? polled.activeViewers : previous.activeViewers,
    activeViewersAtMs: Math.max(previous.activeViewersAtMs, polled.activeViewersAtMs),
    epoch: previous.epoch,
  };
}

/**
 * `PriceUpdated`: only a lower price counts; the cadence it announces replaces the one held, and
 * a viewer count riding along (a large group's) counts like `ViewerCountUpdated`. `undefined`
 * when nothing changed.
 */
export function applyPriceUpdated(
  view: AuctionView,
  data: PriceUpdatedData,
  epoch: number,
  sentAtMs = Number.NaN,
): AuctionView | undefined {
  let next: AuctionView | undefined;
  if (data.currentPrice < view.currentPrice) {
    next = {
      ...view,
      status: laterStatus(view.status, "Active"),
      currentPrice: data.currentPrice,
      dropsRemaining: Math.min(view.dropsRemaining, data.dropsRemaining),
      epoch,
    };
  }
  const cadence = data.pushIntervalSeconds;
  if (typeof cadence === "number" && cadence > 0 && cadence !== (next ?? view).pushIntervalSeconds) {
    next = { ...(next ?? view), pushIntervalSeconds: cadence };
  }
  if (typeof data.activeViewers === "number") {
    const counted = applyViewerCount(next ?? view, { auctionId: data.auctionId, activeViewers: data.activeViewers }, sentAtMs);
    if (counted !== undefined) next = counted;
  }
  return next;
}

/** `ViewerCountUpdated`: a count older than the one shown is ignored. */
export function applyViewerCount(
  view: AuctionView,
  data: ViewerCountUpdatedData,
  sentAtMs: number,
): AuctionView | undefined {
  const at = Number.isFinite(sentAtMs) ? sentAtMs : view.activeViewersAtMs;
  if (at < view.activeViewersAtMs || data.activeViewers === view.activeViewers) return undefined;
  return { ...view, activeViewers: data.activeViewers, activeViewersAtMs: at };
}

type Counts = Pick<AuctionView, "remainingItems" | "soldItems" | "releasedItems">;

/**
 * The counts of `held` and `seen` together: the largest `soldItems` and `releasedItems`, and the
 * items left they give; without counts on both sides (an older server), the lower
 * `remainingItems`.
 */
function mergedCounts(held: AuctionView, seen: Counts): Counts {
  if (held.soldItems === undefined || seen.soldItems === undefined) {
    return {
      remainingItems: Math.min(held.remainingItems, seen.remainingItems),
      soldItems: held.soldItems ?? seen.soldItems,
      releasedItems: held.releasedItems ?? seen.releasedItems,
    };
  }
  const soldItems = Math.max(held.soldItems, seen.soldItems);
  const releasedItems = Math.max(held.releasedItems ?? 0, seen.releasedItems ?? 0);
  return {
    remainingItems: Math.max(0, held.totalItems - soldItems + releasedItems),
    soldItems,
    releasedItems,
  };
}

function applyCounts(view: AuctionView, data: ItemCounts, epoch: number): AuctionView | undefined {
  const seen: Counts = {
    remainingItems: data.remainingItems,
    soldItems: data.soldItems,
    releasedItems: data.soldItems === undefined ? undefined : (data.releasedItems ?? 0),
  };
  const next = mergedCounts(view, seen);
  if (
    next.remainingItems === view.remainingItems &&
    next.soldItems === view.soldItems &&
    next.releasedItems === view.releasedItems
  ) {
    return undefined;
  }
  return { ...view, ...next, epoch };
}

/**
 * `ItemSold`: the counts only move forward, so a late or repeated frame changes nothing. It may
 * arrive after `AuctionEnded` (they travel on different paths); the counts still move and the
 * auction stays ended.
 */
export function applyItemSold(
  view: AuctionView,
  data: ItemSoldData,
  epoch: number,
): AuctionView | undefined {
  return applyCounts(view, data, epoch);
}

/**
 * `ItemReleased`: a winner's hold lapsed and its item is available again. Merged by the same
 * rule as `ItemSold`; from an older server without counts, its `remainingItems` is taken as it
 * comes (the one frame that raises the count).
 */
export function applyItemReleased(
  view: AuctionView,
  data: ItemReleasedData,
  epoch: number,
): AuctionView | undefined {
  if (data.soldItems === undefined || view.soldItems === undefined) {
    if (data.remainingItems === view.remainingItems) return undefined;
    return { ...view, remainingItems: data.remainingItems, epoch };
  }
  return applyCounts(view, data, epoch);
}

/** `AuctionEnded`: final; a second one changes nothing. */
export function applyAuctionEnded(view: AuctionView, data: AuctionEndedData): AuctionView | undefined {
  if (view.status === "Ended" && view.endReason !== null) return undefined;
  return {
    ...view,
    status: "Ended",
    endReason: data.reason,
    remainingItems: data.reason === "SoldOut" ? 0 : view.remainingItems,
  };
}

/** What to show at `serverNowMs`: the price falling on schedule between frames. */
export interface DisplayedAuction {
  price: number;
  dropsRemaining: number;
  status: AuctionStatus;
}

/**
 * The displayed price: the schedule's price at the server's clock, never above the lowest price the
 * server reported; frozen once the auction ended. A Scheduled auction whose start has passed shows
 * as Active (the ticker's frame may be a moment late).
 */
export function displayAt(view: AuctionView, serverNowMs: number): DisplayedAuction {
  if (view.status === "Ended") {
    return { price: view.currentPrice, dropsRemaining: view.dropsRemaining, status: "Ended" };
  }
  const scheduled = scheduledPrice(view, serverNowMs);
  const started = serverNowMs >= view.startsAtMs;
  return {
    price: Math.min(view.currentPrice, scheduled.price),
    dropsRemaining: Math.min(view.dropsRemaining, scheduled.dropsRemaining),
    status: view.status === "Scheduled" && started ? "Active" : view.status,
  };
}
