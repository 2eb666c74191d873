/**
 * `useAuction(auctionId)`: the React hook over `AuctionClient`. It joins the
 * auction on the client given by `<AuctionClientProvider>` (or `options.client`) for as long as the
 * component is mounted, re-renders as the price falls each second, and exposes the connection
 * state, the last error, the last bid outcome and the user's hold with its `confirm`.
 */

import {
  createContext,
  createElement,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useReducer,
  useRef,
  useState,
} from "react";
import { AuctionApiError } from "./api.js";
import type { AuctionClient, ClientError, JoinState, Reservation } from "./client.js";
import type { Liveness } from "./liveness.js";
import type {
  AuctionStatus,
  BidAcceptedData,
  BidOutcome,
  BidRejectedData,
  EndReason,
} from "./protocol.js";
import type { ConnectionState } from "./state.js";
import type { AuctionView } from "./view.js";

const ClientContext = createContext<AuctionClient | null>(null);

/** Makes `client` the one `useAuction` uses below it. The caller owns connect/stop. */
export function AuctionClientProvider(props: {
  client: AuctionClient;
  children?: ReactNode;
}): ReactNode {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest `AuctionClientProvider`. */
export function useAuctionClient(): AuctionClient {
  const client = useContext(ClientContext);
  if (client === null) throw new Error("useAuction needs an <AuctionClientProvider client={…}>");
  return client;
}

/** The last bid outcome, from the REST answer or the frame, whichever came first. */
export type LastBid =
  | ({ status: "Accepted" } & BidAcceptedData)
  | ({ status: "Rejected" } & BidRejectedData);

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

export function useAuction(auctionId: string, options: UseAuctionOptions = {}): UseAuction {
  const contextClient = useContext(ClientContext);
  const client = options.client ?? contextClient;
  if (client === null) throw new Error("useAuction needs an <AuctionClientProvider client={…}>");
  const refreshMs = options.refreshMs ?? 250;

  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const [connectionState, setConnectionState] = useState<ConnectionState>(client.state);
  const [liveness, setLiveness] = useState<Liveness>(client.liveness);
  const [lastError, setLastError] = useState<UseAuction["lastError"]>(undefined);
  const [lastBid, setLastBid] = useState<LastBid | undefined>(undefined);
  const shownPrice = useRef<number | undefined>(undefined);

  useEffect(() => {
    setConnectionState(client.state);
    setLiveness(client.liveness);
    const unsubscribe = [
      client.on("state", setConnectionState),
      client.on("liveness", setLiveness),
      client.on("join", (state) => {
        if (state.auctionId === auctionId) rerender();
      }),
      client.on("auction", (view) => {
        if (view.auctionId === auctionId) rerender();
      }),
      client.on("error", (error) => {
        if (error.auctionId === undefined || error.auctionId === auctionId) setLastError(error);
      }),
      client.on("BidAccepted", (data) => {
        if (data.auctionId === auctionId) setLastBid({ status: "Accepted", ...data });
      }),
      client.on("BidRejected", (data) => {
        if (data.auctionId === auctionId) setLastBid({ status: "Rejected", ...data });
      }),
      client.on("reservation", (reservation) => {
        if (reservation.auctionId === auctionId) rerender();
      }),
    ];
    client.join(auctionId);
    rerender();
    return () => {
      for (const off of unsubscribe) off();
      client.leave(auctionId);
    };
  }, [client, auctionId]);

  // The price falls between frames, and a hold counts down: re-render when either moves.
  useEffect(() => {
    const timer = setInterval(() => {
      const price = client.display(auctionId)?.price;
      const held = client.reservations(auctionId).some((r) => r.state === "Held");
      if (price !== shownPrice.current || held) rerender();
    }, refreshMs);
    return () => clearInterval(timer);
  }, [client, auctionId, refreshMs]);

  const placeBid = useCallback(
    async (bidPrice: number) => {
      try {
        return await client.placeBid(auctionId, bidPrice);
      } catch (error) {
        setLastError(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    },
    [client, auctionId],
  );

  const confirm = useCallback(
    async (reservationId?: string) => {
      const id = reservationId ?? client.reservations(auctionId).at(-1)?.reservationId;
      if (id === undefined) throw new Error("no reservation to confirm");
      try {
        return await client.confirm(id);
      } catch (error) {
        setLastError(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    },
    [client, auctionId],
  );

  const view = client.auction(auctionId);
  const shown = client.display(auctionId);
  shownPrice.current = shown?.price;
  const reservation = client.reservations(auctionId).at(-1);
  return {
    currentPrice: shown?.price,
    currency: view?.currency,
    activeViewers: view?.activeViewers,
    remainingItems: view?.remainingItems,
    dropsRemaining: shown?.dropsRemaining,
    status: shown?.status,
    endReason: view?.endReason,
    connectionState,
    isConnected: connectionState === "Connected",
    liveness,
    join: client.joinState(auctionId),
    canBid: client.canBid(auctionId),
    lastError,
    lastBid,
    auction: view,
    placeBid,
    allReserved: shown?.status === "Active" && view?.remainingItems === 0,
    reservation,
    holdRemainingMs:
      reservation?.state === "Held"
        ? Math.max(0, reservation.expiresAtMs - client.serverNow())
        : undefined,
    confirm,
  };
}

export { AuctionApiError };
