/**
 * The wire contract of docs/protocol.md, as TypeScript types: the frames a client sends and receives
 * over the WebSocket (sections 3 and 4), the auction snapshot (section 6) and the HTTP bodies of
 * the bid endpoint and of errors (section 5). Field names are the wire's; prices are numbers in
 * major units, exact to the currency's minor unit.
 */

/** An auction's lifecycle phase. */
export type AuctionStatus = "Scheduled" | "Active" | "Ended";

/** Why an auction ended. */
export type EndReason = "SoldOut" | "FloorReached" | "Cancelled";

/** Why a bid was rejected. */
export type RejectReason = "PriceTooLow" | "SoldOut" | "NotActive" | "AllReserved";

/** A reservation's state: held until `expiresAt`, then confirmed (paid) or expired. */
export type ReservationState = "Held" | "Confirmed" | "Expired";

/** The `Error` frame's codes. */
export type ErrorCode =
  | "BadRequest"
  | "NotFound"
  | "Unauthorized"
  | "RateLimited"
  | "UnknownAction"
  | "InternalError";

/** The auction snapshot: HTTP bodies and the `AuctionState` frame (docs/protocol.md section 6). */
export interface AuctionSnapshot {
  auctionId: string;
  tenantId: string;
  title: string;
  status: AuctionStatus;
  endReason: EndReason | null;
  currency: string;
  currentPrice: number;
  startPrice: number;
  floorPrice: number;
  priceDrop: number;
  dropIntervalSeconds: number;
  /** RFC 3339. */
  startsAt: string;
  /** RFC 3339, or null once no drop is left. */
  nextDropAt: string | null;
  dropsRemaining: number;
  totalItems: number;
  remainingItems: number;
  /** Items won and not yet paid for (absent from older servers). */
  heldItems?: number;
  /** Sales so far; only grows (absent from older servers). */
  soldItems?: number;
  /** Items returned to the room by lapsed holds; only grows (absent from older servers). */
  releasedItems?: number;
  activeViewers: number;
  /**
   * While the auction is Active the server pushes to its group at least this often (a
   * `PriceUpdated` whenever the price changed). Absent from older servers.
   */
  pushIntervalSeconds?: number;
  /** RFC 3339: the server's clock when the snapshot was taken. */
  serverTime: string;
}

export interface PriceUpdatedData {
  auctionId: string;
  currentPrice: number;
  currency: string;
  dropsRemaining: number;
  /** The cadence the server keeps for this auction from now on (absent from older servers). */
  pushIntervalSeconds?: number;
  /** The viewer count, carried by a large group's push (which gets no `ViewerCountUpdated`). */
  activeViewers?: number;
}

export interface ViewerCountUpdatedData {
  auctionId: string;
  activeViewers: number;
}

export interface BidAcceptedData {
  bidId: string;
  auctionId: string;
  winningPrice: number;
  reservationId: string;
  /** RFC 3339. */
  expiresAt: string;
}

export interface BidRejectedData {
  bidId: string;
  auctionId: string;
  reason: RejectReason;
  currentPrice: number;
}

/** The counts an item frame carries; `soldItems` and `releasedItems` only grow. */
export interface ItemCounts {
  auctionId: string;
  remainingItems: number;
  /** Absent from older servers. */
  soldItems?: number;
  /** Absent from older servers. */
  releasedItems?: number;
}

export type ItemSoldData = ItemCounts;

/** A lapsed hold's item is available again. */
export type ItemReleasedData = ItemCounts;

/** The buyer's hold is paid for (checkout confirmed it): final. */
export interface ReservationConfirmedData {
  reservationId: string;
  auctionId: string;
}

/** The buyer's hold lapsed unpaid. */
export interface ReservationExpiredData {
  reservationId: string;
  auctionId: string;
}

export interface AuctionEndedData {
  auctionId: string;
  reason: EndReason;
}

export interface ErrorData {
  action: string;
  code: ErrorCode;
  message: string;
  auctionId?: string;
}

/** Each server frame's `data`, by `type`. */
export interface ServerFrameData {
  AuctionState: AuctionSnapshot;
  PriceUpdated: PriceUpdatedData;
  ViewerCountUpdated: ViewerCountUpdatedData;
  BidAccepted: BidAcceptedData;
  BidRejected: BidRejectedData;
  ItemSold: ItemSoldData;
  ItemReleased: ItemReleasedData;
  ReservationConfirmed: ReservationConfirmedData;
  ReservationExpired: ReservationExpiredData;
  AuctionEnded: AuctionEndedData;
  Error: ErrorData;
  Pong: Record<string, never>;
}

export type ServerFrameType = keyof ServerFrameData;

/** The envelope of every server frame. */
export interface ServerFrame<T extends ServerFrameType = ServerFrameType> {
  type: T;
  data: ServerFrameData[T];
  /** Epoch milliseconds on the server's clock. */
  sentAt: number;
}

/** Frames a client sends. */
export type ClientFrame =
  | { action: "JoinAuction"; auctionId: string }
  | { action: "LeaveAuction"; auctionId: string }
  | { action: "Ping" };

/** `201` (or `200` on a replay) from `POST /api/auctions/{id}/bids`. */
export interface BidAcceptedBody {
  bidId: string;
  status: "Accepted";
  winningPrice: number;
  reservationId: string;
  expiresAt: string;
}

/** `409` from `POST /api/auctions/{id}/bids`. */
export interface BidRejectedBody {
  bidId: string;
  status: "Rejected";
  reason: RejectReason;
  currentPrice: number;
}

/** `GET /api/reservations/{id}` and `POST /api/reservations/{id}/confirm` (`200`). */
export interface ReservationBody {
  reservationId: string;
  auctionId: string;
  bidId: string;
  state: ReservationState;
  winningPrice: number;
  currency: string;
  /** RFC 3339. */
  expiresAt: string;
  /** RFC 3339, once confirmed. */
  confirmedAt?: string;
}

/** The outcome of a bid. */
export type BidOutcome = BidAcceptedBody | BidRejectedBody;

/** An `application/problem+json` error body. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
}

const FRAME_TYPES: ReadonlySet<string> = new Set<ServerFrameType>([
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
export function parseServerFrame(text: string): ServerFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const frame = value as Partial<ServerFrame>;
  if (typeof frame.type !== "string" || !FRAME_TYPES.has(frame.type)) return undefined;
  if (typeof frame.data !== "object" || frame.data === null) return undefined;
  return {
    type: frame.type,
    data: frame.data,
    sentAt: typeof frame.sentAt === "number" ? frame.sentAt : Number.NaN,
  } as ServerFrame;
}
