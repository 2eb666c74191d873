/**
 * Showing the price fall every second between `PriceUpdated` frames: the schedule in the snapshot
 * (docs/protocol.md section 6) gives the price at any instant, computed in integer minor units as the
 * server does, at the server's clock as estimated by {@link ClockSync}.
 */
/** How many decimals the currency has (EUR 2, JPY 0, KWD 3); 2 when the platform does not know. */
export declare function minorDigits(currency: string): number;
/** The price schedule of an auction (the snapshot's fields). */
export interface PriceSchedule {
    currency: string;
    startPrice: number;
    floorPrice: number;
    priceDrop: number;
    dropIntervalSeconds: number;
    /** Epoch milliseconds. */
    startsAtMs: number;
}
/** The scheduled price and drops left at `serverNowMs`. */
export interface ScheduledPrice {
    price: number;
    dropsRemaining: number;
}
/**
 * `startPrice − priceDrop × floor((t − startsAt) / dropInterval)`, never below `floorPrice`, in
 * minor units so that 100 − 3 × 0.1 is exactly 99.7.
 */
export declare function scheduledPrice(schedule: PriceSchedule, serverNowMs: number): ScheduledPrice;
/** Formats a price with its currency for display. */
export declare function formatPrice(price: number, currency: string, locale?: string): string;
/**
 * Estimates `serverClock − clientClock`.
 *
 * - A round trip (a request sent at `t0`, answered with the server's time, received at `t1`) puts
 *   the offset at `serverTime − (t0 + t1) / 2`, within ± RTT / 2; the estimate is the sample with
 *   the smallest RTT among the last few, as NTP does.
 * - A one-way frame (`sentAt`, received at `t`) proves the offset is at least `sentAt − t`: an
 *   estimate below that bound is raised to it.
 */
export declare class ClockSync {
    private readonly window;
    private readonly roundTrips;
    private lowerBoundMs;
    constructor(window?: number);
    /** Adds a round-trip sample. */
    observeRoundTrip(serverTimeMs: number, sentAtClientMs: number, receivedAtClientMs: number): void;
    /** Adds a one-way sample: a frame stamped `sentAtServerMs`, received at `receivedAtClientMs`. */
    observeOneWay(sentAtServerMs: number, receivedAtClientMs: number): void;
    /** The current estimate in milliseconds (0 before any sample). */
    get offsetMs(): number;
    /** The server's clock now, given the client's. */
    serverNow(clientNowMs: number): number;
}
