/**
 * The demo page in real Chromium against the real auction-local: the price falls each second; one
 * browser buys and sees its reservation while another sees ItemSold and the lower count; a cut of
 * the WebSocket side shows "Reconnecting", the page stays current by polling, then reconnects,
 * re-joins and receives PriceUpdated again. Screenshots of every step go to e2e/artifacts/.
 */
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, demoToken, launchChromium, type LocalStack, startLocal } from "./harness.js";

let stack: LocalStack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startLocal();
  browser = await launchChromium();
});

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await stack?.stop();
});

async function openDemo(): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error("page error:", error));
  await page.goto(`${stack.url}/?auction=${stack.demoAuctionId}`);
  await page.locator('[data-testid=connection][data-state="Connected"]').waitFor();
  await page.locator('[data-testid=price][data-price]:not([data-price=""])').waitFor();
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: true });
}

const price = async (page: Page) =>
  Number(await page.getAttribute("[data-testid=price]", "data-price"));
const items = async (page: Page) =>
  Number(await page.getAttribute("[data-testid=items]", "data-items"));
const frames = (page: Page, type: string) =>
  page.evaluate((t) => (window as unknown as { auctionDemo: { frames: Record<string, number> } }).auctionDemo.frames[t] ?? 0, type);

/** Samples the displayed price every 250 ms for `ms`. */
async function samplePrices(page: Page, ms: number): Promise<number[]> {
  const seen: number[] = [];
  for (let t = 0; t <= ms; t += 250) {
    seen.push(await price(page));
    await page.waitForTimeout(250);
  }
  return seen;
}

describe("the demo page", () => {
  let buyer: Page;
  let viewer: Page;

  it("shows the price falling each second", async () => {
    buyer = await openDemo();
    await shot(buyer, "1-price-falling-start");
    const seen = await samplePrices(buyer, 3_500);
    await shot(buyer, "1-price-falling-end");
    // Never up; at least three distinct lower prices in 3.5 s of a 1 s-drop auction.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeLessThanOrEqual(seen[i - 1]!);
    const distinct = [...new Set(seen)];
    expect(distinct.length).toBeGreaterThanOrEqual(3);
    expect(await buyer.textContent("[data-testid=status]")).toBe("Active");
  });

  it("one browser buys and sees its reservation; the other sees ItemSold and fewer items", async () => {
    viewer = await openDemo();
    const before = await items(viewer);
    await buyer.click("[data-testid=buy]");
    await buyer.locator("[data-testid=reservation]:not([hidden])").waitFor();
    expect(await buyer.textContent("[data-testid=reservation]")).toMatch(/^Reservation \S+: /);
    await buyer.locator('[data-testid=toasts] li[data-kind="BidAccepted"]').waitFor();
    await viewer.locator('[data-testid=toasts] li[data-kind="ItemSold"]').waitFor();
    await expect.poll(() => items(viewer)).toBe(before - 1);
    await expect.poll(() => items(buyer)).toBe(before - 1);
    expect(await viewer.locator("[data-testid=reservation]").isHidden()).toBe(true);
    await shot(buyer, "2-buyer-reservation");
    await shot(viewer, "2-viewer-item-sold");
  });

  it("survives a WebSocket outage: reconnecting, polling, then re-joined and live again", async () => {
    const itemsBefore = await items(viewer);
    const joinsBefore = await frames(viewer, "AuctionState");
    const cut = await fetch(`${stack.url}/_local/faults/websocket`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ outage: true }),
    });
    expect(cut.status).toBe(200);
    await viewer.locator('[data-testid=connection][data-state="Reconnecting"]').waitFor();
    const priceAtCut = await price(viewer);
    await shot(viewer, "3-outage-reconnecting");

    // Someone else buys while the page has no socket, after the poll made at the cut: only the
    // 5 s polling can tell it.
    await viewer.waitForTimeout(1_000);
    const token = await demoToken(stack.url, "outage-buyer");
    const bid = await fetch(`${stack.url}/api/auctions/${stack.demoAuctionId}/bids`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ bidPrice: 1000 }),
    });
    expect(bid.status).toBe(201);
    await expect.poll(() => items(viewer), { timeout: 12_000 }).toBe(itemsBefore - 1);
    expect(await viewer.getAttribute("[data-testid=connection]", "data-state")).toBe("Reconnecting");
    expect(await price(viewer)).toBeLessThan(priceAtCut);
    await shot(viewer, "3-outage-polled");

    await fetch(`${stack.url}/_local/faults/websocket`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ outage: false }),
    });
    // The default schedule: 0, 2, 10 s (± 20 %); the 10 s attempt lands after the outage ends.
    await viewer
      .locator('[data-testid=connection][data-state="Connected"]')
      .waitFor({ timeout: 45_000 });
    await expect.poll(() => frames(viewer, "AuctionState")).toBeGreaterThan(joinsBefore);
    const pricesBefore = await frames(viewer, "PriceUpdated");
    await expect.poll(() => frames(viewer, "PriceUpdated"), { timeout: 10_000 }).toBeGreaterThan(pricesBefore);
    expect(await items(viewer)).toBe(itemsBefore - 1);
    await shot(viewer, "3-reconnected-live");
  });
});
