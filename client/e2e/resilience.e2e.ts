/**
 * The demo page when the server itself goes away, in real Chromium against the real
 * auction-local: a frozen server (SIGSTOP: sockets stay open, nothing answers) is shown stale
 * within 2.5 times the cadence and Buy is withdrawn, and the page is live again soon after the
 * server thaws; a restarted in-memory stack no longer has the auction, and the page says so and
 * offers the next one instead of showing a price for an auction that does not exist.
 */
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchChromium, type LocalStack, startLocal } from "./harness.js";

let stack: LocalStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  stack = await startLocal();
  browser = await launchChromium();
  context = await browser.newContext();
  page = await context.newPage();
  page.on("pageerror", (error) => console.error("page error:", error));
  await page.goto(`${stack.url}/?auction=${stack.demoAuctionId}`);
  await page.locator('[data-testid=connection][data-liveness="live"]').waitFor();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.stop();
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: true });
}

const liveness = () => page.getAttribute("[data-testid=connection]", "data-liveness");
const buyOffered = async () => (await page.getAttribute("[data-testid=buy]", "aria-disabled")) === "false";

/** Polls `check` every 50 ms; resolves with the milliseconds it took to hold. */
async function msUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await page.waitForTimeout(50);
  }
  throw new Error(`not within ${timeoutMs} ms`);
}

describe("the demo page when the server goes away", () => {
  it("shows a frozen server as stale within 2.5 × the cadence, withdraws Buy, and is live soon after it thaws", async () => {
    const cadenceMs =
      1000 *
      (await page.evaluate(
        (id) =>
          (window as unknown as { auctionDemo: { client: { auction(id: string): { pushIntervalSeconds: number } } } })
            .auctionDemo.client.auction(id).pushIntervalSeconds,
        stack.demoAuctionId,
      ));
    expect(cadenceMs).toBe(1_000);
    await expect.poll(() => buyOffered()).toBe(true);

    stack.freeze();
    const staleMs = await msUntil(async () => (await liveness()) !== "live" && !(await buyOffered()), 10_000);
    console.log(`frozen server shown as ${await liveness()} after ${staleMs} ms (cadence ${cadenceMs} ms)`);
    expect(staleMs).toBeLessThanOrEqual(2.5 * cadenceMs);
    expect(await page.textContent("[data-testid=freshness]")).toMatch(/^(unconfirmed|offline)$/);
    await shot("5-frozen-stale");
    // No Pong comes: the connection is counted lost and, with no poll answering, offline.
    await msUntil(async () => (await liveness()) === "offline", 12_000);
    expect(await buyOffered()).toBe(false);
    expect(await page.textContent("[data-testid=buy]")).toBe("Offline — reconnecting…");
    await shot("5-frozen-offline");
    await page.waitForTimeout(15_000 - 2_000 - staleMs);

    stack.thaw();
    const backMs = await msUntil(async () => (await liveness()) === "live" && (await buyOffered()), 15_000);
    console.log(`live again ${backMs} ms after a 15 s freeze ended`);
    expect(backMs).toBeLessThanOrEqual(7_000);
    await shot("5-thawed-live");
  });

  it("says the auction is gone after an in-memory restart, and offers the next one", async () => {
    const port = stack.port;
    const oldAuction = stack.demoAuctionId;
    await stack.stop();
    await msUntil(async () => (await liveness()) === "offline", 15_000);
    stack = await startLocal({ port });
    expect(stack.demoAuctionId).not.toBe(oldAuction);

    await page.locator('[data-testid=banner][data-kind="gone"]').waitFor({ timeout: 20_000 });
    expect(await page.textContent("[data-testid=banner-text]")).toBe("This auction no longer exists.");
    expect(await buyOffered()).toBe(false);
    expect(await page.textContent("[data-testid=buy]")).toBe("Not available");
    await shot("6-gone");

    await page.click("[data-testid=next]");
    await page.locator("[data-testid=banner]").waitFor({ state: "hidden" });
    expect(page.url()).toContain(`auction=${stack.demoAuctionId}`);
    await page.locator('[data-testid=connection][data-liveness="live"]').waitFor();
    await expect.poll(() => buyOffered()).toBe(true);
    await shot("6-next-auction");
  });
});
