// The demo page: the project's own TypeScript client (served from client/dist at /client/), no
// framework and no build step. It follows one live auction of tenant `public` — `?auction=ID`, or
// the first active one — shows the price falling each second, viewers, items left, a Buy button
// and toasts as the React hook exposes them, and moves on to the next auction when one ends.

import { AuctionApiError, AuctionClient, formatPrice } from "/client/index.js";

const $ = (id) => document.getElementById(id);

// One user per browser tab session: two windows (or two browser profiles) bid against each other.
const user =
  sessionStorage.getItem("auction-demo-user") ??
  `viewer-${Math.random().toString(36).slice(2, 8)}`;
sessionStorage.setItem("auction-demo-user", user);
$("user").textContent = user;

// A development token from auction-local, renewed a minute before it expires.
let cachedToken;
async function token() {
  if (cachedToken && Date.parse(cachedToken.expiresAt) - Date.now() > 60_000) {
    return cachedToken.token;
  }
  const response = await fetch(`/_local/demo-token?sub=${encodeURIComponent(user)}`);
  if (!response.ok) throw new Error(`no demo token (HTTP ${response.status})`);
  cachedToken = await response.json();
  return cachedToken.token;
}

const client = new AuctionClient({
  url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
  apiBaseUrl: location.origin,
  token,
});

// Counters for the browser tests and for curious developers (`auctionDemo` in the console).
const frames = {};
let auctionId;
window.auctionDemo = { client, frames, user, get auctionId() { return auctionId; } };

function toast(kind, text) {
  const item = document.createElement("li");
  item.dataset.kind = kind;
  item.textContent = text;
  $("toasts").prepend(item);
  setTimeout(() => item.remove(), 8_000);
  while ($("toasts").children.length > 5) $("toasts").lastElementChild.remove();
}

function render() {
  const view = auctionId && client.auction(auctionId);
  const shown = auctionId && client.display(auctionId);
  if (!view || !shown) return;
  $("title").textContent = view.title;
  $("price").textContent = formatPrice(shown.price, view.currency);
  $("price").dataset.price = String(shown.price);
  $("items").textContent = `${view.remainingItems} of ${view.totalItems}`;
  $("items").dataset.items = String(view.remainingItems);
  $("viewers").textContent = String(view.activeViewers);
  $("status").textContent =
    shown.status === "Ended" ? `Ended (${view.endReason ?? "?"})` : shown.status;
  $("status").dataset.status = shown.status;
  $("drops").textContent =
    shown.status === "Active" ? `${shown.dropsRemaining} drops to the floor` : "";
  $("buy").disabled = shown.status !== "Active" || view.remainingItems === 0;
}

client.on("state", (state) => {
  $("connection").textContent = state;
  $("connection").dataset.state = state;
});
client.on("auction", render);
for (const type of ["AuctionState", "PriceUpdated", "ViewerCountUpdated", "Pong"]) {
  client.on(type, () => {
    frames[type] = (frames[type] ?? 0) + 1;
  });
}
client.on("ItemSold", (data) => {
  frames.ItemSold = (frames.ItemSold ?? 0) + 1;
  if (data.auctionId === auctionId) {
    toast("ItemSold", `Item was just sold! ${data.remainingItems} left.`);
  }
});
client.on("BidAccepted", (data) => {
  frames.BidAccepted = (frames.BidAccepted ?? 0) + 1;
  const currency = client.auction(data.auctionId)?.currency ?? "EUR";
  const price = formatPrice(data.winningPrice, currency);
  toast("BidAccepted", `You won an item at ${price}!`);
  $("reservation").hidden = false;
  $("reservation").textContent =
    `Reservation ${data.reservationId}: ${price}, hold until ` +
    `${new Date(data.expiresAt).toLocaleTimeString()}. (Checkout would open here.)`;
});
client.on("BidRejected", (data) => {
  frames.BidRejected = (frames.BidRejected ?? 0) + 1;
  const reasons = {
    PriceTooLow: "the price is lower than your bid",
    SoldOut: "sold out",
    NotActive: "the auction is not active",
  };
  toast("BidRejected", `Bid rejected: ${reasons[data.reason] ?? data.reason}.`);
});
client.on("AuctionEnded", (data) => {
  if (data.auctionId !== auctionId) return;
  const reasons = { SoldOut: "sold out", FloorReached: "the floor price was reached", Cancelled: "cancelled" };
  toast("AuctionEnded", `Auction ended: ${reasons[data.reason] ?? data.reason}.`);
  setTimeout(findAuction, 5_000);
});
client.on("error", (error) => {
  if (error.kind === "server") toast("error", error.message);
});

$("buy").addEventListener("click", async () => {
  const shown = client.display(auctionId);
  if (!shown) return;
  $("buy").disabled = true;
  try {
    await client.placeBid(auctionId, shown.price);
  } catch (error) {
    const text = error instanceof AuctionApiError ? (error.problem.detail ?? error.message) : error.message;
    toast("error", `Bid failed: ${text}`);
  } finally {
    render();
  }
});

/** Follows `?auction=ID`, else the first active auction of tenant `public`; retries until one exists. */
async function findAuction() {
  const wanted = new URLSearchParams(location.search).get("auction");
  let next = wanted;
  if (!wanted || (auctionId === wanted && client.auction(wanted)?.status === "Ended")) {
    try {
      const response = await fetch("/api/auctions?status=Active", {
        headers: { authorization: `Bearer ${await token()}` },
      });
      const { items = [] } = response.ok ? await response.json() : {};
      next = items.find((a) => a.auctionId !== auctionId)?.auctionId ?? null;
    } catch {
      next = null;
    }
  }
  if (!next) {
    $("title").textContent = "Waiting for a live auction…";
    setTimeout(findAuction, 2_000);
    return;
  }
  if (next === auctionId) return;
  if (auctionId) client.leave(auctionId);
  auctionId = next;
  $("reservation").hidden = true;
  client.join(auctionId);
  render();
}

// The price falls between frames: redraw a few times a second.
setInterval(render, 250);
client.connect();
findAuction();
