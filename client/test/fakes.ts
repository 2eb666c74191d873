/** Test doubles for the platform: a scripted WebSocket and a scripted fetch. */
import type { AuctionSnapshot, ServerFrameData, ServerFrameType } from "../src/protocol.js";

export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  static reset(): void {
    FakeWebSocket.instances = [];
  }
  static last(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1);
    if (ws === undefined) throw new Error("no socket was opened");
    return ws;
  }

  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  readonly sent: unknown[] = [];

  readonly protocols: string[];

  constructor(
    readonly url: string,
    protocols?: string | string[],
  ) {
    this.protocols = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : protocols;
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(data));
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }

  /** The server accepts the upgrade. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** The server (or the network) drops the connection without a close frame. */
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: "" });
  }

  /** The server sends a frame. */
  push<T extends ServerFrameType>(type: T, data: ServerFrameData[T], sentAt = Date.now()): void {
    this.onmessage?.({ data: JSON.stringify({ type, data, sentAt }) });
  }

  actions(): unknown[] {
    return this.sent;
  }
}

export function snapshot(overrides: Partial<AuctionSnapshot> = {}): AuctionSnapshot {
  const now = Date.now();
  return {
    auctionId: "a1",
    tenantId: "public",
    title: "Tulips",
    status: "Active",
    endReason: null,
    currency: "EUR",
    currentPrice: 100,
    startPrice: 100,
    floorPrice: 20,
    priceDrop: 1,
    dropIntervalSeconds: 1,
    startsAt: new Date(now).toISOString(),
    nextDropAt: new Date(now + 1000).toISOString(),
    dropsRemaining: 80,
    totalItems: 5,
    remainingItems: 5,
    activeViewers: 1,
    pushIntervalSeconds: 1,
    serverTime: new Date(now).toISOString(),
    ...overrides,
  };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const contentType = status >= 400 && status !== 409 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": contentType, ...headers },
  });
}
