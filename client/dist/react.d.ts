/**
 * `useAuction(auctionId)`: the React hook over `AuctionClient`. It joins the
 * auction on the client given by `<AuctionClientProvider>` (or `options.client`) for as long as the
 * component is mounted, re-renders as the price falls each second, and exposes the connection
 * state, the last error, the last bid outcome and the user's hold with its `confirm`.
 */
import { type ReactNode } from "react";
import { AuctionApiError } from "./api.js";
import type { AuctionClient, ClientError, JoinState, Reservation } from "./client.js";
import type { Liveness } from "./liveness.js";
import type { AuctionStatus, BidAcceptedData, BidOutcome, BidRejectedData, EndReason } from "./protocol.js";
import type { ConnectionState } from "./state.js";
import type { AuctionView } from "./view.js";
/** Makes `client` the one `useAuction` uses below it. The caller owns connect/stop. */
export declare function AuctionClientProvider(props: {
    client: AuctionClient;
    children?: ReactNode;
}): ReactNode;
/** The client of the nearest `AuctionClientProvider`. */
export declare function useAuctionClient(): AuctionClient;
/** The last bid outcome, from the REST answer or the frame, whichever came first. */
export type LastBid = ({
    status: "Accepted";
} & BidAcceptedData) | ({
    status: "Rejected";
} & BidRejectedData);
/** What `useAuction` returns. */
export interface UseAuction {
    /** The price to show now (falling on schedule between frames); undefined before the snapshot. */
    currentPrice: number | undefined;
    currency: string | undefined;
    activeViewers: number | undefined;
    remainingItems: number | undefined;
    dropsRemaining: number | undefined;
    status: AuctionStatus | undefined;
    endReason: EndReason | null | undefined;
    /** The connection state; `isConnected` is `connectionState === "Connected"`. */
    connectionState: ConnectionState;
    isConnected: boolean;
    /**
     * `live` (confirmed by the server within twice its announced cadence), `stale` (extrapolating
     * without recent confirmation) or `offline`. Show it; do not present a stale price as live.
     */
    liveness: Liveness;
    /** The membership: `joining`, `joined`, `gone` (no such auction) or `refused`, with the reason. */
    join: JoinState | undefined;
    /** Whether a bid placed now would be honoured as shown; disable the Buy button when not. */
    canBid: boolean;
    lastError: ClientError | AuctionApiError | Error | undefined;
    lastBid: LastBid | undefined;
    /** Everything the client knows about the auction. */
    auction: AuctionView | undefined;
    /** Bids over REST (retried safely with one bidId); the outcome also lands in `lastBid`. */
    placeBid: (bidPrice: number) => Promise<BidOutcome>;
    /**
     * Every item left is held by a winner who has not paid yet: nothing can be bid on now, but a
     * lapsing hold may bring an item back (show "All items reserved — one may come back").
     */
    allReserved: boolean;
    /** The user's latest hold on this auction (held, confirmed or expired), if it won one. */
    reservation: Reservation | undefined;
    /** The milliseconds left on `reservation` while it is held (server clock), else undefined. */
    holdRemainingMs: number | undefined;
    /** Pays for `reservation` (or the one named); resolves `Confirmed`, or `Expired` if too late. */
    confirm: (reservationId?: string) => Promise<Reservation>;
}
/** Options of {@link useAuction}. */
export interface UseAuctionOptions {
    /** Use this client instead of the provider's. */
    client?: AuctionClient;
    /** How often to re-check the extrapolated price. Default 250 ms. */
    refreshMs?: number;
}
export declare function useAuction(auctionId: string, options?: UseAuctionOptions): UseAuction;
export { AuctionApiError };
