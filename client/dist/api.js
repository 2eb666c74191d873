/**
 * The HTTP side of the auction API ([protocol](../../docs/protocol.md) section 5): snapshots for
 * the polling fallback, and bids with a client-generated bidId retried with that same bidId, so a
 * retry can never buy a second item; reservations (read a hold, confirm it: checkout).
 */
/** A non-2xx answer of the HTTP API (other than a bid's 409), with its problem document. */
export class AuctionApiError extends Error {
    status;
    problem;
    retryAfterSeconds;
    constructor(status, problem, retryAfterSeconds) {
        super(problem.detail ?? problem.title ?? `HTTP ${status}`);
        this.status = status;
        this.problem = problem;
        this.retryAfterSeconds = retryAfterSeconds;
        this.name = "AuctionApiError";
    }
}
/** The HTTP API's client. */
export class AuctionApi {
    options;
    constructor(options) {
        this.options = options;
    }
    /**
     * `GET /api/auctions/{id}`; throws {@link AuctionApiError} for a non-2xx answer, and an `Error`
     * when no answer came within `timeoutMs` (a frozen server accepts connections and never answers).
     */
    async getAuction(auctionId, timeoutMs) {
        const sentAt = Date.now();
        const path = `/api/auctions/${encodeURIComponent(auctionId)}`;
        const response = await this.request("GET", path, undefined, timeoutMs);
        const receivedAt = Date.now();
        if (!response.ok)
            throw await apiError(response);
        return { snapshot: (await response.json()), sentAt, receivedAt };
    }
    /**
     * `POST /api/auctions/{id}/bids`. Network errors, 5xx and 429 (after `Retry-After`) are retried
     * with the same bidId, which the server deduplicates. Resolves with the outcome (accepted, or
     * rejected with a reason); throws {@link AuctionApiError} for other answers (401, 403, 404, 400)
     * and the last error when every attempt failed.
     */
    async placeBid(auctionId, bidPrice, bidId) {
        const id = bidId ?? (this.options.newBidId ?? (() => crypto.randomUUID()))();
        const path = `/api/auctions/${encodeURIComponent(auctionId)}/bids`;
        const body = JSON.stringify({ bidPrice, bidId: id });
        const response = await this.idempotent("POST", path, body, [200, 201, 409]);
        return (await response.json());
    }
    /** `GET /api/reservations/{id}`: the buyer's (or the tenant checkout's) view of a hold. */
    async getReservation(reservationId) {
        const path = `/api/reservations/${encodeURIComponent(reservationId)}`;
        const response = await this.request("GET", path);
        if (!response.ok)
            throw await apiError(response);
        return (await response.json());
    }
    /**
     * `POST /api/reservations/{id}/confirm`: pays for a hold. Idempotent, so it is retried like a bid
     * (network errors, 5xx, 429). Resolves with the reservation (`Confirmed`, on the first call and
     * every repeat); throws {@link AuctionApiError} otherwise — `409` with `problem.code` `Expired`
     * when the hold lapsed first.
     */
    async confirmReservation(reservationId) {
        const path = `/api/reservations/${encodeURIComponent(reservationId)}/confirm`;
        const response = await this.idempotent("POST", path, undefined, [200]);
        return (await response.json());
    }
    /**
     * Sends an idempotent request up to `bidAttempts` times: network errors, 5xx and 429 (after
     * `Retry-After`) are retried; a status in `answers` is returned; any other throws.
     */
    async idempotent(method, path, body, answers) {
        let lastError;
        for (let attempt = 0; attempt < this.options.bidAttempts; attempt++) {
            if (attempt > 0)
                await sleep(retryDelayMs(attempt, lastError));
            let response;
            try {
                response = await this.request(method, path, body);
            }
            catch (error) {
                lastError = error;
                continue;
            }
            if (answers.includes(response.status))
                return response;
            const error = await apiError(response);
            if (response.status !== 429 && response.status < 500)
                throw error;
            lastError = error;
        }
        throw lastError;
    }
    async request(method, path, body, timeoutMs) {
        const headers = { accept: "application/json" };
        if (body !== undefined)
            headers["content-type"] = "application/json";
        const token = await this.options.token?.();
        if (token)
            headers.authorization = `Bearer ${token}`;
        const doFetch = this.options.fetch ?? globalThis.fetch.bind(globalThis);
        const init = { method, headers, ...(body === undefined ? {} : { body }) };
        const url = new URL(path, this.options.apiBaseUrl).toString();
        if (timeoutMs === undefined)
            return doFetch(url, init);
        const abort = new AbortController();
        let timer;
        const timedOut = new Promise((_, reject) => {
            timer = setTimeout(() => {
                abort.abort();
                reject(new Error(`no answer within ${timeoutMs / 1000} s`));
            }, timeoutMs);
        });
        try {
            return await Promise.race([doFetch(url, { ...init, signal: abort.signal }), timedOut]);
        }
        finally {
            clearTimeout(timer);
        }
    }
}
async function apiError(response) {
    let problem = { status: response.status };
    try {
        problem = { ...(await response.json()), status: response.status };
    }
    catch {
        // A body that is not a problem document: the status says enough.
    }
    const retryAfter = Number(response.headers.get("retry-after"));
    return new AuctionApiError(response.status, problem, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
}
/** A bid retry waits `Retry-After` when the server said so, else 250 ms doubling, with jitter. */
function retryDelayMs(attempt, lastError) {
    if (lastError instanceof AuctionApiError && lastError.retryAfterSeconds !== undefined) {
        return lastError.retryAfterSeconds * 1000;
    }
    const base = 250 * 2 ** (attempt - 1);
    return Math.round(base * (0.8 + 0.4 * Math.random()));
}
function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
