/**
 * Starts the real `auction-local` binary and Debian's Chromium for the browser suites. Both are
 * required: a missing one fails with what to install, never a silent skip.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));

/** Screenshots land here (ignored by git; CI keeps the directory as the run's artifacts). */
export const ARTIFACTS = resolve(here, "artifacts");

export interface LocalStack {
  url: string;
  port: number;
  demoAuctionId: string;
  process: ChildProcess;
  stop(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but answers nothing, like a frozen server. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
}

/**
 * Runs `auction-local` with 1 s price and viewer-count intervals, on `options.port` (default: a
 * free one; a restart passes the port of the stack it replaces), with `options.args` besides.
 */
export async function startLocal(options: { port?: number; args?: string[] } = {}): Promise<LocalStack> {
  const bin = process.env.AUCTION_LOCAL_BIN ?? resolve(here, "../../target/debug/auction-local");
  if (!existsSync(bin)) {
    throw new Error(
      `auction-local not found at ${bin}: build it with \`cargo build --bin auction-local\` (scripts/test gets it from \`cargo test\`) or set AUCTION_LOCAL_BIN`,
    );
  }
  const child = spawn(
    bin,
    [
      "--port",
      String(options.port ?? 0),
      "--price-update-interval",
      "1",
      "--viewer-count-interval",
      "1",
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" } },
  );
  const lines = createInterface({ input: child.stdout! });
  let url: string | undefined;
  const demoAuctionId = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error("auction-local did not start within 60 s")), 60_000);
    child.once("exit", (code) => reject(new Error(`auction-local exited with ${code}`)));
    lines.on("line", (line) => {
      const listening = /^listening on (http:\/\/\S+)$/.exec(line);
      if (listening) url = listening[1];
      const demo = /^demo auction (\S+)$/.exec(line);
      if (demo?.[1] && url) {
        clearTimeout(timer);
        resolvePromise(demo[1]);
      }
    });
  });
  return {
    url: url!,
    port: Number(new URL(url!).port),
    demoAuctionId,
    process: child,
    freeze: () => child.kill("SIGSTOP"),
    thaw: () => child.kill("SIGCONT"),
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGCONT");
        child.kill("SIGTERM");
      }),
  };
}

/** Debian's Chromium, headless, with the flags this machine needs (no sandbox as root, no calls home). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}: install Debian's \`chromium\` package (scripts/install-test-tools does) or set CHROMIUM_PATH`,
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** POSTs a bid of `sub` on `auctionId`; returns the status and the body. */
export async function placeBid(
  url: string,
  sub: string,
  auctionId: string,
  bidPrice = 1000,
): Promise<{ status: number; body: { reservationId?: string; reason?: string } }> {
  const response = await fetch(`${url}/api/auctions/${auctionId}/bids`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await demoToken(url, sub)}` },
    body: JSON.stringify({ bidPrice }),
  });
  return { status: response.status, body: (await response.json()) as { reservationId?: string } };
}

/** Confirms (pays for) `sub`'s reservation; returns the status. */
export async function confirmReservation(url: string, sub: string, reservationId: string): Promise<number> {
  const response = await fetch(`${url}/api/reservations/${reservationId}/confirm`, {
    method: "POST",
    headers: { authorization: `Bearer ${await demoToken(url, sub)}` },
  });
  return response.status;
}

/** A development token of tenant `public`, from the stack's demo-token endpoint. */
export async function demoToken(url: string, sub: string): Promise<string> {
  const response = await fetch(`${url}/_local/demo-token?sub=${encodeURIComponent(sub)}`);
  if (!response.ok) throw new Error(`demo-token: HTTP ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

/** Every console message and page error of the pages it watches, to check what they print. */
export class ConsoleLog {
  readonly lines: string[] = [];
  watch(page: import("playwright-core").Page): void {
    page.on("console", (message) => this.lines.push(`${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => this.lines.push(`pageerror: ${error.message}`));
    page.on("requestfailed", (request) => this.lines.push(`requestfailed: ${request.url()}`));
  }
}

/** Runs axe-core in the page; returns the violations of impact serious or critical. */
export async function seriousA11yViolations(page: import("playwright-core").Page): Promise<string[]> {
  const axePath = resolve(here, "../node_modules/axe-core/axe.min.js");
  await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run(document);
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.join(", ")})`);
}
