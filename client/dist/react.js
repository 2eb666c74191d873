/**
 * `useAuction(auctionId)`: the React hook over `AuctionClient`. It joins the
 * auction on the client given by `<AuctionClientProvider>` (or `options.client`) for as long as the
 * component is mounted, re-renders as the price falls each second, and exposes the connection
 * state, the last error, the last bid outcome and the user's hold with its `confirm`.
 */
import { createContext, createElement, useCallback, useContext, useEffect, useReducer, useRef, useState, } from "react";
import { AuctionApiError } from "./api.js";
const ClientContext = createContext(null);
/** Makes `client` the one `useAuction` uses below it. The caller owns connect/stop. */
export function AuctionClientProvider(props) {
    return createElement(ClientContext.Provider, { value: props.client }, props.children);
}
/** The client of the nearest `AuctionClientProvider`. */
export function useAuctionClient() {
    const client = useContext(ClientContext);
    if (client === null)
        throw new Error("useAuction needs an <AuctionClientProvider client={…}>");
    return client;
}
export function useAuction(auctionId, options = {}) {
    const contextClient = useContext(ClientContext);
    const client = options.client ?? contextClient;
    if (client === null)
        throw new Error("useAuction needs an <AuctionClientProvider client={…}>");
    const refreshMs = options.refreshMs ?? 250;
    const [, rerender] = useReducer((n) => n + 1, 0);
    const [connectionState, setConnectionState] = useState(client.state);
    const [liveness, setLiveness] = useState(client.liveness);
    const [lastError, setLastError] = useState(undefined);
    const [lastBid, setLastBid] = useState(undefined);
    const shownPrice = useRef(undefined);
    useEffect(() => {
        setConnectionState(client.state);
        setLiveness(client.liveness);
        const unsubscribe = [
            client.on("state", setConnectionState),
            client.on("liveness", setLiveness),
            client.on("join", (state) => {
                if (state.auctionId === auctionId)
                    rerender();
            }),
            client.on("auction", (view) => {
                if (view.auctionId === auctionId)
                    rerender();
            }),
            client.on("error", (error) => {
                if (error.auctionId === undefined || error.auctionId === auctionId)
                    setLastError(error);
            }),
            client.on("BidAccepted", (data) => {
                if (data.auctionId === auctionId)
                    setLastBid({ status: "Accepted", ...data });
            }),
            client.on("BidRejected", (data) => {
                if (data.auctionId === auctionId)
                    setLastBid({ status: "Rejected", ...data });
            }),
            client.on("reservation", (reservation) => {
                if (reservation.auctionId === auctionId)
                    rerender();
            }),
        ];
        client.join(auctionId);
        rerender();
        return () => {
            for (const off of unsubscribe)
                off();
            client.leave(auctionId);
        };
    }, [client, auctionId]);
    // The price falls between frames, and a hold counts down: re-render when either moves.
    useEffect(() => {
        const timer = setInterval(() => {
            const price = client.display(auctionId)?.price;
            const held = client.reservations(auctionId).some((r) => r.state === "Held");
            if (price !== shownPrice.current || held)
                rerender();
        }, refreshMs);
        return () => clearInterval(timer);
    }, [client, auctionId, refreshMs]);
    const placeBid = useCallback(async (bidPrice) => {
        try {
            return await client.placeBid(auctionId, bidPrice);
        }
        catch (error) {
            setLastError(error instanceof Error ? error : new Error(String(error)));
            throw error;
        }
    }, [client, auctionId]);
    const confirm = useCallback(async (reservationId) => {
        const id = reservationId ?? client.reservations(auctionId).at(-1)?.reservationId;
        if (id === undefined)
            throw new Error("no reservation to confirm");
        try {
            return await client.confirm(id);
        }
        catch (error) {
            setLastError(error instanceof Error ? error : new Error(String(error)));
            throw error;
        }
    }, [client, auctionId]);
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
        holdRemainingMs: reservation?.state === "Held"
            ? Math.max(0, reservation.expiresAtMs - client.serverNow())
            : undefined,
        confirm,
    };
}
export { AuctionApiError };
