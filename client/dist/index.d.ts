/**
 * The TypeScript client of the auction real-time API: `AuctionClient` (WebSocket with reconnect,
 * re-join and polling fallback; REST bids), the wire types of docs/protocol.md, and the pure rules it is
 * built from (retry policy, state machine, price schedule, clock offset, view merging). The React
 * hook lives in the `./react` entry point.
 */
export { AuctionApi, AuctionApiError, type AuctionApiOptions, type FetchedSnapshot, type TokenFactory, } from "./api.js";
export { AuctionClient, type AuctionClientEvents, type AuctionClientOptions, type ClientError, type JoinState, type Reservation, SUBPROTOCOL, } from "./client.js";
export { type JoinStatus, type Liveness, type LivenessInputs, livenessAt } from "./liveness.js";
export { type WebSocketFactory, type WebSocketLike } from "./socket.js";
export { ClockSync, formatPrice, minorDigits, type PriceSchedule, scheduledPrice } from "./price.js";
export * from "./protocol.js";
export { type RetryContext, type RetryPolicy, type DefaultRetryOptions, defaultRetryPolicy } from "./retry.js";
export { type ConnectionEvent, type ConnectionState, transition } from "./state.js";
export { type AuctionView, applyAuctionEnded, applyItemReleased, applyItemSold, applyJoinState, applyPolledSnapshot, applyPriceUpdated, applyViewerCount, type DisplayedAuction, displayAt, viewFromSnapshot, } from "./view.js";
