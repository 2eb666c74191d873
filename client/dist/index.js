/**
 * The TypeScript client of the auction real-time API: `AuctionClient` (WebSocket with reconnect,
 * re-join and polling fallback; REST bids), the wire types of docs/protocol.md, and the pure rules it is
 * built from (retry policy, state machine, price schedule, clock offset, view merging). The React
 * hook lives in the `./react` entry point.
 */
export { AuctionApi, AuctionApiError, } from "./api.js";
export { AuctionClient, SUBPROTOCOL, } from "./client.js";
export { livenessAt } from "./liveness.js";
export {} from "./socket.js";
export { ClockSync, formatPrice, minorDigits, scheduledPrice } from "./price.js";
export * from "./protocol.js";
export { defaultRetryPolicy } from "./retry.js";
export { transition } from "./state.js";
export { applyAuctionEnded, applyItemReleased, applyItemSold, applyJoinState, applyPolledSnapshot, applyPriceUpdated, applyViewerCount, displayAt, viewFromSnapshot, } from "./view.js";
