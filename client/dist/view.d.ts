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
import type { AuctionEndedData, AuctionSnapshot, AuctionStatus, EndReason, ItemReleasedData, ItemSoldData, PriceUpdatedData, ViewerCountUpdatedData } from "./protocol.js";
import { type PriceSchedule } from "./price.js";
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
/** A view built from a snapshot alone. */
export declare function viewFromSnapshot(snapshot: AuctionSnapshot, epoch: number): AuctionView;
/**
 * Applies the `AuctionState` that answered a join on connection `epoch`: the truth, except what
 * frames of that same connection lowered after the join.
 */
export declare function applyJoinState(previous: AuctionView | undefined, snapshot: AuctionSnapshot, epoch: number): AuctionView;
/** Merges a polled snapshot (`GET /api/auctions/{id}`): nothing moves backwards. */
export declare function applyPolledSnapshot(previous: AuctionView | undefined, snapshot: AuctionSnapshot): AuctionView;
/**
 * `PriceUpdated`: only a lower price counts; the cadence it announces replaces the one held, and
 * a viewer count riding along (a large group's) counts like `ViewerCountUpdated`. `undefined`
 * when nothing changed.
 */
export declare function applyPriceUpdated(view: AuctionView, data: PriceUpdatedData, epoch: number, sentAtMs?: number): AuctionView | undefined;
/** `ViewerCountUpdated`: a count older than the one shown is ignored. */
export declare function applyViewerCount(view: AuctionView, data: ViewerCountUpdatedData, sentAtMs: number): AuctionView | undefined;
/**
 * `ItemSold`: the counts only move forward, so a late or repeated frame changes nothing. It may
 * arrive after `AuctionEnded` (they travel on different paths); the counts still move and the
 * auction stays ended.
 */
export declare function applyItemSold(view: AuctionView, data: ItemSoldData, epoch: number): AuctionView | undefined;
/**
 * `ItemReleased`: a winner's hold lapsed and its item is available again. Merged by the same
 * rule as `ItemSold`; from an older server without counts, its `remainingItems` is taken as it
 * comes (the one frame that raises the count).
 */
export declare function applyItemReleased(view: AuctionView, data: ItemReleasedData, epoch: number): AuctionView | undefined;
/** `AuctionEnded`: final; a second one changes nothing. */
export declare function applyAuctionEnded(view: AuctionView, data: AuctionEndedData): AuctionView | undefined;
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
export declare function displayAt(view: AuctionView, serverNowMs: number): DisplayedAuction;
