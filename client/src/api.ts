/**
 * The HTTP side of the auction API ([protocol](../../docs/protocol.md) section 5): snapshots for
 * the polling fallback, and bids with a client-generated bidId retried with that same bidId, so a
 * retry can never buy a second item; reservations (read a hold, confirm it: checkout).
 */

import type { AuctionSnapshot, BidOutcome, Problem, ReservationBody } from "./protocol.js";

/** Returns the bearer token to use, or nothing for an anonymous viewer. */
export type TokenFactory = () => string | null | undefined | Promise<string | null | undefined>;

/** A non-2xx answer of the HTTP API (other than a bid's 409), with its problem document. */
export class AuctionApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly retryAfterSeconds?: number,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = "AuctionApiError";
  }
}

/** What {@link AuctionApi} needs. */
export interface AuctionApiOptions {
  /** The HTTP API's base URL, e.g. `http://127.0.0.1:3000`; requests go to `{base}/api/…`. */
  apiBaseUrl: string;
  /** Asked for a token before every request; none means anonymous. */
  token?: TokenFactory;
  /** Attempts per bid (network errors, 5xx and 429 are retried with the same bidId). */
  bidAttempts: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Default: `crypto.randomUUID`. */
  newBidId?: () => string;
}

/** A snapshot with the times of its round trip (for the clock offset). */
export interface FetchedSnapshot {
  snapshot: AuctionSnapshot;
  sentAt: number;
  receivedAt: number;
}

/** The HTTP API's client. */
export class AuctionApi {
  constructor(private readonly options: AuctionApiOptions) {}

  /**
   * `GET /api/auctions/{id}`; throws {@link AuctionApiError} for a non-2xx answer, and an `Error`
   * when no answer came within `timeoutMs` (a frozen server accepts connections and never answers).
   */
  async getAuction(auctionId: string, timeoutMs?: number): Promise<FetchedSnapshot> {
    const sentAt = Date.now();
    const path = `/api/auctions/${encodeURIComponent(auctionId)}`;
    const response = await this.request("GET", path, undefined, timeoutMs);
    const receivedAt = Date.now();
    if (!response.ok) throw await apiError(response);
    return { snapshot: (await response.json()) as AuctionSnapshot, sentAt, receivedAt };
  }

  /**
   * `POST /api/auctions/{id}/bids`. Network errors, 5xx and 429 (after `Retry-After`) are retried
   * with the same bidId, which the server deduplicates. Resolves with the outcome (accepted, or
   * rejected with a reason); throws {@link AuctionApiError} for other answers (401, 403, 404, 400)
   * and the last error when every attempt failed.
   */
  async placeBid(auctionId: string, bidPrice: number, bidId?: string): Promise<BidOutcome> {
    const id = bidId ?? (this.options.newBidId ?? (() => crypto.randomUUID()))();
    const path = `/api/auctions/${encodeURIComponent(auctionId)}/bids`;
    const body = JSON.stringify({ bidPrice, bidId: id });
    const response = await this.idempotent("POST", path, body, [200, 201, 409]);
    return (await response.json()) as BidOutcome;
  }

  /** `GET /api/reservations/{id}`: the buyer's (or the tenant checkout's) view of a hold. */
  async getReservation(reservationId: string): Promise<ReservationBody> {
    const path = `/api/reservations/${encodeURIComponent(reservationId)}`;
    const response = await this.request("GET", path);
    if (!response.ok) throw await apiError(response);
    return (await response.json()) as ReservationBody;
  }

  /**
   * `POST /api/reservations/{id}/confirm`: pays for a hold. Idempotent, so it is retried like a bid
   * (network errors, 5xx, 429). Resolves with the reservation (`Confirmed`, on the first call and
   * every repeat); throws {@link AuctionApiError} otherwise — `409` with `problem.code` `Expired`
   * when the hold lapsed first.
   */
  async confirmReservation(reservationId: string): Promise<ReservationBody> {
    const path = `/api/reservations/${encodeURIComponent(reservationId)}/confirm`;
    const response = await this.idempotent("POST", path, undefined, [200]);
    return (await response.json()) as ReservationBody;
  }

  /**
   * Sends an idempotent request up to `bidAttempts` times: network errors, 5xx and 429 (after
   * `Retry-After`) are retried; a status in `answers` is returned; any other throws.
   */
  private async idempotent(
    method: string,
    path: string,
    body: string | undefined,
    answers: readonly number[],
  ): Promise<Response> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.options.bidAttempts; attempt++) {
      if (attempt > 0) await sleep(retryDelayMs(attempt, lastError));
      let response: Response;
      try {
        response = await this.request(method, path, body);
      } catch (error) {
        lastError = error;
        continue;
      }
      if (answers.includes(response.status)) return response;
      const error = await apiError(response);
      if (response.status !== 429 && response.status < 500) throw error;
      lastError = error;
    }
    throw lastError;
  }

  private async request(
    method: string,
    path: string,
    body?: string,
    timeoutMs?: number,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const token = await this.options.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    const doFetch = this.options.fetch ?? globalThis.fetch.bind(globalThis);
    const init: RequestInit = { method, headers, ...(body === undefined ? {} : { body }) };
    const url = new URL(path, this.options.apiBaseUrl).toString();
    if (timeoutMs === undefined) return doFetch(url, init);
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new Error(`no answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([doFetch(url, { ...init, signal: abort.signal }), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

async function apiError(response: Response): Promise<AuctionApiError> {
  let problem: Problem = { status: response.status };
  try {
    problem = { ...((await response.json()) as Problem), status: response.status };
  } catch {
    // A body that is not a problem document: the status says enough.
  }
  const retryAfter = Number(response.headers.get("retry-after"));
  return new AuctionApiError(
    response.status,
    problem,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
}

/** A bid retry waits `Retry-After` when the server said so, else 250 ms doubling, with jitter. */
function retryDelayMs(attempt: number, lastError: unknown): number {
  if (lastError instanceof AuctionApiError && lastError.retryAfterSeconds !== undefined) {
    return lastError.retryAfterSeconds * 1000;
  }
  const base = 250 * 2 ** (attempt - 1);
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
