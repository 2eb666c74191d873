/**
 * The wire contract of docs/protocol.md, as TypeScript types: the frames a client sends and receives
 * over the WebSocket (sections 3 and 4), the auction snapshot (section 6) and the HTTP bodies of
 * the bid endpoint and of errors (section 5). Field names are the wire's; prices are numbers in
 * major units, exact to the currency's minor unit.
 */
const FRAME_TYPES = new Set([
    "AuctionState",
    "PriceUpdated",
    "ViewerCountUpdated",
    "BidAccepted",
    "BidRejected",
    "ItemSold",
    "ItemReleased",
    "ReservationConfirmed",
    "ReservationExpired",
    "AuctionEnded",
    "Error",
    "Pong",
]);
/**
 * Parses a text frame into a known server frame, or returns `undefined` for anything else (not
 * JSON, an unknown `type`, no `data`). Unknown fields are kept: clients ignore what they do not know.
 */
export function parseServerFrame(text) {
    let value;
    try {
        value = JSON.parse(text);
    }
    catch {
        return undefined;
    }
    if (typeof value !== "object" || value === null)
        return undefined;
    const frame = value;
    if (typeof frame.type !== "string" || !FRAME_TYPES.has(frame.type))
        return undefined;
    if (typeof frame.data !== "object" || frame.data === null)
        return undefined;
    return {
        type: frame.type,
        data: frame.data,
        sentAt: typeof frame.sentAt === "number" ? frame.sentAt : Number.NaN,
    };
}
