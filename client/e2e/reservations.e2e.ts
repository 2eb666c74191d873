/**
 * Reservations in real Chromium against the real auction-local, whose holds last 6 s here
 * (`--reservation-ttl-seconds 6`): the winner's page counts its hold down beside "Pay now"; paying
 * makes the sale final; an unpaid hold lapses, its buyer is told, and a second window sees the
 * item come back, live; with every item held nobody can buy until a hold lapses. Screenshots go to
 * e2e/artifacts/.
 */
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ARTIFACTS,
  launchChromium,
  type LocalStack,
  placeBid,
  seriousA11yViolations,
  startLocal,
} from "./harness.js";

const HOLD_SECONDS = 6;

let stack: LocalStack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startLocal({ args: ["--reservation-ttl-seconds", String(HOLD_SECONDS)] });
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
  await page.goto(`${stack.url}/?auction=${stack.demoAuctionId}`);
  await page.locator('[data-testid=connection][data-liveness="live"]').waitFor();
  await page.locator('[data-testid=price][data-price]:not([data-price=""])').waitFor();
  return page;
}

const items = async (page: Page) => Number(await page.getAttribute("[data-testid=items]", "data-items"));
const buyOffered = async (page: Page) => (await page.getAttribute("[data-testid=buy]", "aria-disabled")) === "false";
const holdState = (page: Page) => page.getAttribute("[data-testid=reservation]", "data-state");
const shot = (page: Page, name: string) =>
  page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: true });

describe("reservations on the demo page", () => {
  let buyer: Page;
  let watcher: Page;

  it("counts a won hold down beside Pay now, and paying makes the sale final", async () => {
    buyer = await openDemo();
    watcher = await openDemo();
    const before = await items(watcher);
    await buyer.click("[data-testid=buy]");
    await buyer.locator('[data-testid=reservation][data-state="Held"]').waitFor();
    expect(await buyer.textContent("[data-testid=reservation-hold]")).toMatch(/^Held for you for 0:0[1-6] /);
    expect(await buyer.textContent("[data-testid=pay]")).toMatch(/^Pay €\d+\.\d\d now$/);
    await expect.poll(() => items(watcher)).toBe(before - 1);
    await shot(buyer, "5-hold-counting-down");

    await buyer.click("[data-testid=pay]");
    await buyer.locator('[data-testid=reservation][data-state="Confirmed"]').waitFor();
    expect(await buyer.locator("[data-testid=pay]").isHidden()).toBe(true);
    expect(await seriousA11yViolations(buyer)).toEqual([]);
    await shot(buyer, "5-hold-paid");
    // Past the hold's time the paid item stays sold.
    await buyer.waitForTimeout((HOLD_SECONDS + 2) * 1000);
    expect(await holdState(buyer)).toBe("Confirmed");
    expect(await items(watcher)).toBe(before - 1);
  });

  it("lets an unpaid hold lapse: its buyer is told, and a second window sees the item come back live", async () => {
    const before = await items(watcher);
    await buyer.click("[data-testid=buy]");
    await buyer.locator('[data-testid=reservation][data-state="Held"]').waitFor();
    await expect.poll(() => items(watcher)).toBe(before - 1);

    await buyer.locator('[data-testid=reservation][data-state="Expired"]').waitFor({ timeout: (HOLD_SECONDS + 8) * 1000 });
    expect(await buyer.textContent("[data-testid=reservation-text]")).toMatch(/^Your hold on the item for €\d+\.\d\d lapsed unpaid\.$/);
    await buyer.locator('[data-testid=toasts] li[data-kind="ReservationExpired"]').waitFor();
    await watcher.locator('[data-testid=toasts] li[data-kind="ItemReleased"]').waitFor();
    await expect.poll(() => items(watcher)).toBe(before);
    await expect.poll(() => items(buyer)).toBe(before);
    await expect.poll(() => buyOffered(watcher)).toBe(true);
    expect(await seriousA11yViolations(buyer)).toEqual([]);
    await shot(buyer, "6-hold-lapsed");
    await shot(watcher, "6-item-back");
  });

  it("offers nothing while every item is held, and Buy again once a hold lapses", async () => {
    const left = await items(watcher);
    for (let i = 0; i < left; i++) {
      const { status } = await placeBid(stack.url, `holder-${i}`, stack.demoAuctionId);
      expect(status).toBe(201);
    }
    await expect.poll(() => watcher.textContent("[data-testid=buy]")).toBe("All reserved — one may come back");
    expect(await watcher.textContent("[data-testid=status]")).toBe("All items reserved");
    expect(await buyOffered(watcher)).toBe(false);
    const late = await placeBid(stack.url, "late", stack.demoAuctionId);
    expect([late.status, late.body.reason]).toEqual([409, "AllReserved"]);
    await shot(watcher, "7-all-reserved");

    // Nobody pays: the holds lapse, the items come back, and the auction is live again.
    await expect.poll(() => items(watcher), { timeout: (HOLD_SECONDS + 8) * 1000 }).toBe(left);
    await expect.poll(() => buyOffered(watcher)).toBe(true);
    expect(await watcher.textContent("[data-testid=status]")).toBe("Live auction");
    await shot(watcher, "7-items-back");
  });
});
