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
  demoAuctionId: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Runs `auction-local --port 0` with 1 s price and viewer-count intervals. */
export async function startLocal(): Promise<LocalStack> {
  const bin = process.env.AUCTION_LOCAL_BIN ?? resolve(here, "../../target/debug/auction-local");
  if (!existsSync(bin)) {
    throw new Error(
      `auction-local not found at ${bin}: build it with \`cargo build --bin auction-local\` (scripts/test gets it from \`cargo test\`) or set AUCTION_LOCAL_BIN`,
    );
  }
  const child = spawn(
    bin,
    ["--port", "0", "--price-update-interval", "1", "--viewer-count-interval", "1"],
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
    demoAuctionId,
    process: child,
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once("exit", () => done());
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

/** A development token of tenant `public`, from the stack's demo-token endpoint. */
export async function demoToken(url: string, sub: string): Promise<string> {
  const response = await fetch(`${url}/_local/demo-token?sub=${encodeURIComponent(sub)}`);
  if (!response.ok) throw new Error(`demo-token: HTTP ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}
