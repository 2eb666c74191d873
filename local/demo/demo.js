// The demo page: the project's own TypeScript client (served from client/dist at /client/), no
// framework and no build step. It follows one auction of tenant `public` — `?auction=ID`, or the
// first active one — and stays on it: an ended, sold-out or vanished auction stays on screen with
// the user's reservation and a "Next auction" button. A won item is held for the user for the
// auction's reservation time: "Pay now" confirms it; unpaid, it lapses and goes back to the room,
// which every window sees. It never shows a price or a Buy button the
// server would not stand behind: the badge and the price say when the client is only
// extrapolating (stale) or cut off (offline), and Buy is only offered when a bid would be
// honoured as shown (`client.canBid`).

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

// The token travels as a WebSocket subprotocol (the client's default), never in a URL that a
// failed connection would print to the console.
const client = new AuctionClient({
  url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
  apiBaseUrl: location.origin,
  token,
});

// Counters for the browser tests and for curious developers (`auctionDemo` in the console).
const frames = {};
let auctionId;
/** What the page showed last (for the sold-out banner's "last price"). */
let lastShownPrice;
/** Displayed prices, one per drop, for the history line. */
let priceHistory = [];
let placing = false;
let paying = false;
window.auctionDemo = {
  client,
  frames,
  user,
  get auctionId() {
    return auctionId;
  },
};

const money = (amount, currency) => formatPrice(amount, currency ?? "EUR");

function toast(kind, text) {
  const item = document.createElement("li");
  item.dataset.kind = kind;
  item.textContent = text;
  $("toasts").prepend(item);
  setTimeout(() => item.remove(), 8_000);
  while ($("toasts").children.length > 5) $("toasts").lastElementChild.remove();
}

/** Says an event once to screen readers (the card itself is not a live region). */
function announce(text) {
  $("announcer").textContent = "";
  // A new text node in the next frame is announced even when the text repeats.
  requestAnimationFrame(() => {
    $("announcer").textContent = text;
  });
}

/** An event: a toast for the eye, one announcement for the ear. */
function tell(kind, text) {
  toast(kind, text);
  announce(text);
}

const LIVENESS_LABEL = {
  live: "Live",
  stale: "Checking connection…",
  offline: "Offline — reconnecting",
};

function countdown(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Why Buy is not offered now, or null when it is. */
function buyBlocker(view, shown) {
  if (placing) return "Placing bid…";
  const join = client.joinState(auctionId);
  if (join?.status === "gone" || join?.status === "refused") return "Not available";
  if (shown.status === "Ended") return view.endReason === "SoldOut" ? "Sold out" : "Auction ended";
  if (view.remainingItems === 0) return "All reserved — one may come back";
  if (shown.status === "Scheduled") return "Not started yet";
  if (client.liveness === "offline") return "Offline — reconnecting…";
  if (client.liveness === "stale") return "Checking connection…";
  if (join?.status !== "joined") return "Joining…";
  return client.canBid(auctionId) ? null : "Not available";
}

function showBanner(kind, text) {
  const banner = $("banner");
  if (kind === null) {
    banner.hidden = true;
    banner.dataset.kind = "";
    return;
  }
  banner.hidden = false;
  banner.dataset.kind = kind;
  if ($("banner-text").textContent !== text) $("banner-text").textContent = text;
}

function renderBanner(view, shown) {
  const join = client.joinState(auctionId);
  if (join?.status === "gone") {
    return showBanner("gone", "This auction no longer exists.");
  }
  if (join?.status === "refused") {
    return showBanner("refused", "You can't watch this auction.");
  }
  if (!view || !shown) return showBanner(null);
  if (shown.status === "Ended") {
    const last = money(lastShownPrice ?? view.currentPrice, view.currency);
    const text =
      view.endReason === "SoldOut"
        ? `Sold out. The last price was ${last}.`
        : view.endReason === "Cancelled"
          ? "This auction was cancelled."
          : `Ended at the floor price, ${money(view.floorPrice, view.currency)}, with ${view.remainingItems} unsold.`;
    return showBanner("ended", text);
  }
  return showBanner(null);
}

function render() {
  const liveness = client.liveness;
  $("connection").textContent = LIVENESS_LABEL[liveness];
  $("connection").dataset.state = client.state;
  $("connection").dataset.liveness = liveness;

  const view = auctionId && client.auction(auctionId);
  const shown = auctionId && client.display(auctionId);
  renderBanner(view, shown);
  renderReservation();
  if (!view || !shown) {
    setBuy("Buy now", "Joining…");
    return;
  }
  $("title").textContent = view.title;
  $("price").textContent = money(shown.price, view.currency);
  $("price").dataset.price = String(shown.price);
  $("price").parentElement.dataset.liveness = liveness;
  $("freshness").textContent =
    shown.status === "Ended" ? "" : liveness === "live" ? "" : liveness === "stale" ? "unconfirmed" : "offline";
  if (shown.status !== "Ended") lastShownPrice = shown.price;
  if (priceHistory.at(-1) !== shown.price) {
    priceHistory.push(shown.price);
    priceHistory = priceHistory.slice(-60);
    drawHistory(view);
  }

  const now = client.serverNow();
  const intervalMs = view.dropIntervalSeconds * 1000;
  const nextDropMs = view.startsAtMs + (Math.floor((now - view.startsAtMs) / intervalMs) + 1) * intervalMs;
  $("next-drop").textContent =
    shown.status === "Active" && shown.dropsRemaining > 0
      ? `Next drop in ${((nextDropMs - now) / 1000).toFixed(1)} s`
      : shown.status === "Scheduled"
        ? `Starts in ${countdown(view.startsAtMs - now)}`
        : "";
  $("range").textContent = `From ${money(view.startPrice, view.currency)} down to ${money(view.floorPrice, view.currency)}`;
  $("items").textContent = `${view.remainingItems} of ${view.totalItems}`;
  $("items").dataset.items = String(view.remainingItems);
  $("viewers").textContent = String(view.activeViewers);
  const status = {
    Scheduled: "Not started",
    Active: view.remainingItems === 0 ? "All items reserved" : "Live auction",
    Ended: view.endReason === "SoldOut" ? "Sold out" : "Ended",
  };
  $("status").textContent = status[shown.status] ?? shown.status;
  $("status").dataset.status = shown.status;
  setBuy(`Buy for ${money(shown.price, view.currency)}`, buyBlocker(view, shown));
}

/** Buy stays focusable (`aria-disabled`, not `disabled`), so focus never falls to the page. */
function setBuy(label, blocker) {
  const buy = $("buy");
  const text = blocker ?? label;
  if (buy.textContent !== text) buy.textContent = text;
  buy.setAttribute("aria-disabled", blocker === null ? "false" : "true");
  buy.setAttribute("aria-busy", placing ? "true" : "false");
}

function drawHistory(view) {
  const span = Math.max(view.startPrice - view.floorPrice, Number.EPSILON);
  const step = priceHistory.length > 1 ? 300 / (priceHistory.length - 1) : 0;
  $("history-line").setAttribute(
    "points",
    priceHistory.map((p, i) => `${(i * step).toFixed(1)},${(38 - ((p - view.floorPrice) / span) * 36).toFixed(1)}`).join(" "),
  );
}

/** The user's latest hold in the followed auction: held (counting down, "Pay now"), paid or lapsed. */
function renderReservation() {
  const reservation = auctionId && client.reservations(auctionId).at(-1);
  if (!reservation) {
    $("reservation").hidden = true;
    return;
  }
  $("reservation").hidden = false;
  $("reservation").dataset.state = reservation.state;
  const price = money(reservation.winningPrice, client.auction(auctionId)?.currency);
  const left = reservation.expiresAtMs - client.serverNow();
  const texts = {
    Held: [
      `You won an item for ${price}. Reservation ${reservation.reservationId}.`,
      left > 0
        ? `Held for you for ${countdown(left)} (until ${new Date(reservation.expiresAtMs).toLocaleTimeString()}). Pay before then, or it goes back to the auction.`
        : "The hold time is over: unpaid, the item goes back to the auction.",
    ],
    Confirmed: [`Paid: the item is yours for ${price}.`, `Reservation ${reservation.reservationId} is confirmed.`],
    Expired: [
      `Your hold on the item for ${price} lapsed unpaid.`,
      "The item went back to the auction (or is unsold if the auction had ended).",
    ],
  };
  const [text, hold] = texts[reservation.state];
  if ($("reservation-text").textContent !== text) $("reservation-text").textContent = text;
  if ($("reservation-hold").textContent !== hold) $("reservation-hold").textContent = hold;
  const pay = $("pay");
  pay.hidden = reservation.state !== "Held" || left <= 0;
  pay.dataset.reservationId = reservation.reservationId;
  pay.setAttribute("aria-disabled", paying ? "true" : "false");
  const label = paying ? "Paying…" : `Pay ${price} now`;
  if (pay.textContent !== label) pay.textContent = label;
}

client.on("state", render);
client.on("liveness", (liveness) => {
  render();
  if (liveness === "offline") announce("Connection lost. Reconnecting…");
  else if (liveness === "live") announce("Connected. Prices are live.");
});
client.on("auction", render);
client.on("join", (state) => {
  if (state.auctionId !== auctionId) return;
  render();
  if (state.status === "gone") tell("error", "This auction no longer exists. Try the next one.");
  if (state.status === "refused") tell("error", "You can't watch this auction.");
});
for (const type of ["AuctionState", "PriceUpdated", "ViewerCountUpdated", "Pong"]) {
  client.on(type, () => {
    frames[type] = (frames[type] ?? 0) + 1;
  });
}
client.on("ItemSold", (data) => {
  frames.ItemSold = (frames.ItemSold ?? 0) + 1;
  if (data.auctionId !== auctionId) return;
  tell("ItemSold", data.remainingItems === 1 ? "An item was just sold. 1 left." : `An item was just sold. ${data.remainingItems} left.`);
});
client.on("ItemReleased", (data) => {
  frames.ItemReleased = (frames.ItemReleased ?? 0) + 1;
  if (data.auctionId !== auctionId) return;
  const left = client.auction(auctionId)?.remainingItems ?? data.remainingItems;
  tell("ItemReleased", `A winner didn't pay: an item is back in the auction. ${left} left.`);
});
client.on("ReservationExpired", (data) => {
  frames.ReservationExpired = (frames.ReservationExpired ?? 0) + 1;
  if (data.auctionId === auctionId) render();
  tell("ReservationExpired", "Your hold lapsed unpaid, and the item went back to the auction.");
});
client.on("reservation", (reservation) => {
  if (reservation.auctionId === auctionId) render();
});
client.on("BidAccepted", (data) => {
  frames.BidAccepted = (frames.BidAccepted ?? 0) + 1;
  const currency = client.auction(data.auctionId)?.currency;
  const price = money(data.winningPrice, currency);
  if (data.auctionId === auctionId) renderReservation();
  tell("BidAccepted", `You won an item for ${price}! Pay now to keep it.`);
});
client.on("BidRejected", (data) => {
  frames.BidRejected = (frames.BidRejected ?? 0) + 1;
  const currency = client.auction(data.auctionId)?.currency;
  const reasons = {
    PriceTooLow: `The price hadn't dropped that far yet. It is ${money(data.currentPrice, currency)} now.`,
    SoldOut: "Sold out: someone else got the last item.",
    NotActive: "This auction is not running any more.",
    AllReserved: "Every item is reserved by a winner right now; one may come back if a winner doesn't pay.",
  };
  tell("BidRejected", `No sale. ${reasons[data.reason] ?? "The bid was not accepted."}`);
});
client.on("AuctionEnded", (data) => {
  if (data.auctionId !== auctionId) return;
  render();
  const reasons = {
    SoldOut: "Sold out.",
    FloorReached: "The auction ended at its floor price.",
    Cancelled: "The seller cancelled the auction.",
  };
  tell("AuctionEnded", reasons[data.reason] ?? "The auction ended.");
});

/** What went wrong with a bid, in words a buyer understands. */
function bidFailure(error) {
  if (error instanceof AuctionApiError) {
    switch (error.status) {
      case 401:
        return "Your session expired. Reload the page to sign in again.";
      case 403:
        return "You can't bid on this auction.";
      case 404:
        return "This auction no longer exists.";
      case 429:
        return "Too many bids at once. Try again in a moment.";
      default:
        return error.status >= 500
          ? "The auction server is having trouble. Your bid was not placed; try again."
          : "The bid could not be placed.";
    }
  }
  return "Can't reach the auction server. Your bid was not placed; check your connection.";
}

$("buy").addEventListener("click", async () => {
  if ($("buy").getAttribute("aria-disabled") === "true") return;
  const shown = client.display(auctionId);
  if (!shown || !client.canBid(auctionId)) return;
  placing = true;
  render();
  try {
    await client.placeBid(auctionId, shown.price);
  } catch (error) {
    tell("error", bidFailure(error));
  } finally {
    placing = false;
    render();
  }
});

$("pay").addEventListener("click", async () => {
  const id = $("pay").dataset.reservationId;
  if (!id || paying || $("pay").getAttribute("aria-disabled") === "true") return;
  paying = true;
  renderReservation();
  try {
    const reservation = await client.confirm(id);
    tell(
      reservation.state === "Confirmed" ? "ReservationConfirmed" : "ReservationExpired",
      reservation.state === "Confirmed" ? "Paid. The item is yours." : "Too late: the hold had lapsed.",
    );
  } catch (error) {
    tell("error", error instanceof AuctionApiError ? "The payment was not accepted." : "Can't reach the server. Try Pay now again.");
  } finally {
    paying = false;
    render();
  }
});

$("next").addEventListener("click", () => void nextAuction());

/** Follows `id`: leaves the previous auction and joins this one; the URL names it. */
function follow(id) {
  if (id === auctionId) return;
  if (auctionId) client.leave(auctionId);
  auctionId = id;
  priceHistory = [];
  lastShownPrice = undefined;
  const url = new URL(location.href);
  if (url.searchParams.get("auction") !== id) {
    url.searchParams.set("auction", id);
    window.history.replaceState(null, "", url);
  }
  client.join(auctionId);
  render();
}

/** The first active auction of tenant `public` other than the one shown, or null. */
async function findActive() {
  try {
    const response = await fetch("/api/auctions?status=Active", {
      headers: { authorization: `Bearer ${await token()}` },
    });
    const { items = [] } = response.ok ? await response.json() : {};
    return items.find((a) => a.auctionId !== auctionId)?.auctionId ?? null;
  } catch {
    return null;
  }
}

/** The "Next auction" button: moves on when there is one, says so when there is not. */
async function nextAuction() {
  const next = await findActive();
  if (next) {
    follow(next);
    announce("Showing the next auction.");
    $("buy").focus();
  } else {
    tell("error", "No other auction is live right now. Try again in a moment.");
  }
}

/** `?auction=ID` if given, else the first active auction; waits for one to exist. */
async function start() {
  const wanted = new URLSearchParams(location.search).get("auction");
  if (wanted) return follow(wanted);
  const next = await findActive();
  if (next) return follow(next);
  $("title").textContent = "Waiting for a live auction…";
  setTimeout(start, 2_000);
}

// The price falls between frames, and the countdowns tick: redraw a few times a second.
setInterval(render, 250);
client.connect();
start();
