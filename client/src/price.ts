/**
 * Showing the price fall every second between `PriceUpdated` frames: the schedule in the snapshot
 * (docs/protocol.md section 6) gives the price at any instant, computed in integer minor units as the
 * server does, at the server's clock as estimated by {@link ClockSync}.
 */

const digitsCache = new Map<string, number>();

/** How many decimals the currency has (EUR 2, JPY 0, KWD 3); 2 when the platform does not know. */
export function minorDigits(currency: string): number {
  let digits = digitsCache.get(currency);
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
        .maximumFractionDigits;
    } catch {
      digits = 2;
    }
    digitsCache.set(currency, digits ?? 2);
  }
  return digits ?? 2;
}

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
export function scheduledPrice(schedule: PriceSchedule, serverNowMs: number): ScheduledPrice {
  const scale = 10 ** minorDigits(schedule.currency);
  const start = Math.round(schedule.startPrice * scale);
  const floor = Math.round(schedule.floorPrice * scale);
  const drop = Math.round(schedule.priceDrop * scale);
  const intervalMs = schedule.dropIntervalSeconds * 1000;
  const totalDrops = drop > 0 ? Math.ceil((start - floor) / drop) : 0;
  const elapsed = serverNowMs - schedule.startsAtMs;
  const drops = elapsed <= 0 || intervalMs <= 0 ? 0 : Math.floor(elapsed / intervalMs);
  const price = Math.max(floor, start - drop * Math.min(drops, totalDrops));
  return { price: price / scale, dropsRemaining: Math.max(0, totalDrops - drops) };
}

/** Formats a price with its currency for display. */
export function formatPrice(price: number, currency: string, locale?: string): string {
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency }).format(price);
  } catch {
    return `${price.toFixed(minorDigits(currency))} ${currency}`;
  }
}

interface RoundTrip {
  offsetMs: number;
  rttMs: number;
}

/**
 * Estimates `serverClock − clientClock`.
 *
 * - A round trip (a request sent at `t0`, answered with the server's time, received at `t1`) puts
 *   the offset at `serverTime − (t0 + t1) / 2`, within ± RTT / 2; the estimate is the sample with
 *   the smallest RTT among the last few, as NTP does.
 * - A one-way frame (`sentAt`, received at `t`) proves the offset is at least `sentAt − t`: an
 *   estimate below that bound is raised to it.
 */
export class ClockSync {
  private readonly roundTrips: RoundTrip[] = [];
  private lowerBoundMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly window = 8) {}

  /** Adds a round-trip sample. */
  observeRoundTrip(serverTimeMs: number, sentAtClientMs: number, receivedAtClientMs: number): void {
    if (!Number.isFinite(serverTimeMs) || receivedAtClientMs < sentAtClientMs) return;
    this.roundTrips.push({
      offsetMs: serverTimeMs - (sentAtClientMs + receivedAtClientMs) / 2,
      rttMs: receivedAtClientMs - sentAtClientMs,
    });
    if (this.roundTrips.length > this.window) this.roundTrips.shift();
    // A fresh round trip restarts the one-way bound: clocks drift and bounds grow stale.
    this.lowerBoundMs = Number.NEGATIVE_INFINITY;
  }

  /** Adds a one-way sample: a frame stamped `sentAtServerMs`, received at `receivedAtClientMs`. */
  observeOneWay(sentAtServerMs: number, receivedAtClientMs: number): void {
    if (!Number.isFinite(sentAtServerMs)) return;
    this.lowerBoundMs = Math.max(this.lowerBoundMs, sentAtServerMs - receivedAtClientMs);
  }

  /** The current estimate in milliseconds (0 before any sample). */
  get offsetMs(): number {
    let best: RoundTrip | undefined;
    for (const sample of this.roundTrips) {
      if (best === undefined || sample.rttMs < best.rttMs) best = sample;
    }
    const estimate = best?.offsetMs ?? (Number.isFinite(this.lowerBoundMs) ? this.lowerBoundMs : 0);
    return Math.round(Math.max(estimate, this.lowerBoundMs));
  }

  /** The server's clock now, given the client's. */
  serverNow(clientNowMs: number): number {
    return clientNowMs + this.offsetMs;
  }
}
