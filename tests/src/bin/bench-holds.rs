//! Lapsed holds released by the ticker shards' sweep, through `auction-local`, printing figures
//! for `docs/performance.md` (docs/design/reservations.md):
//!
//! H holds made by H bids (one user each) over `H / 100` auctions of 101 items (so none sells
//! out), all lapsing within one window of `BENCH_HOLD_SECONDS` (30) after their sale; nobody
//! pays. Printed: when the last hold lapsed, when the last item was back (polled through the
//! HTTP API), and the DynamoDB requests and events per release.
//!
//! Run: `cargo build --profile perf -p local -p tests --bins && target/perf/bench-holds [holds]`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark aborts on any failure

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tests::bench::spawn_local;

const PER_AUCTION: usize = 100;

#[tokio::main]
async fn main() {
    let holds = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_usize);
    let ttl: u64 = std::env::var("BENCH_HOLD_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let local = spawn_local(&[
        "--live-index-shards",
        "8",
        "--max-live-auctions-per-tenant",
        "1000000",
        "--create-rate-limit",
        "1000000",
    ])
    .await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    let seller = tests::token("seller", "bench", &["seller"]);
    let auctions: Vec<String> = futures::stream::iter(0..holds.div_ceil(PER_AUCTION))
        .map(|_| {
            let (http, seller, base) = (&http, &seller, &local.base);
            async move {
                let created: Value = http
                    .post(format!("{base}/api/auctions"))
                    .bearer_auth(seller)
                    .json(
                        &json!({"title": "Holds", "currency": "EUR", "startPrice": 1000,
                                  "floorPrice": 1, "priceDrop": 1, "dropIntervalSeconds": 3600,
                                  "totalItems": PER_AUCTION + 1, "reservationTtlSeconds": ttl}),
                    )
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                created["auctionId"].as_str().unwrap().to_owned()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    // The sales: one bid per user, 16 in flight.
    // Announcements count from before the first sale: when selling takes longer than a hold,
    // the first holds lapse (and are released) while the last are still being sold.
    let stats_before_sales = local.stats(&http).await;
    let selling = Instant::now();
    let won: Vec<Value> = futures::stream::iter(0..holds)
        .map(|i| {
            let (http, base) = (&http, &local.base);
            let auction = &auctions[i / PER_AUCTION];
            async move {
                let token = tests::token(&format!("buyer-{i}"), "bench", &[]);
                let response = http
                    .post(format!("{base}/api/auctions/{auction}/bids"))
                    .bearer_auth(token)
                    .json(&json!({"bidPrice": 1000}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                response.json().await.unwrap()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    println!(
        "{holds} holds over {} auctions sold in {:.1?} (each lapses {ttl} s after its sale)",
        auctions.len(),
        selling.elapsed()
    );
    let last_expiry = won
        .iter()
        .filter_map(|w| w["expiresAt"].as_str())
        .max()
        .unwrap()
        .to_owned();
    let stats_before = local.stats(&http).await;

    // Wait for the last lapse, then poll `auction-local`'s counters (no DynamoDB request) until
    // every release is announced: one `ReservationExpired` each (and one `ItemReleased` per
    // auction and batch).
    let sold_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(ttl)).await;
    let lapsed = Instant::now();
    let expired = |stats: &Value| {
        stats["putEventsByType"]["ReservationExpired"]
            .as_u64()
            .unwrap_or(0)
    };
    let announced = |stats: &Value| expired(stats) - expired(&stats_before_sales);
    let released_while_selling = announced(&stats_before);
    if released_while_selling > 0 {
        println!(
            "{released_while_selling} holds were released while the rest were being sold (the \
             per-release costs below count only the phase after the sales)"
        );
    }
    let back = loop {
        let stats = local.stats(&http).await;
        if announced(&stats) >= holds as u64 {
            break Instant::now();
        }
        if sold_at.elapsed() >= Duration::from_secs(ttl + 180) {
            // What the store says, to tell a slow sweep from lost announcements.
            let mut held = 0;
            let mut released = 0;
            for auction in &auctions {
                let snapshot: Value = http
                    .get(format!("{}/api/auctions/{auction}", local.base))
                    .bearer_auth(&seller)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                held += snapshot["heldItems"].as_u64().unwrap_or(0);
                released += snapshot["releasedItems"].as_u64().unwrap_or(0);
            }
            panic!(
                "{} of {holds} releases announced after {:?}; the store: {released} released, \
                 {held} still held; stats {stats}",
                announced(&stats),
                sold_at.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stats_after = local.stats(&http).await;
    let delta = |key: &str| {
        stats_after[key].as_u64().unwrap_or(0) - stats_before[key].as_u64().unwrap_or(0)
    };
    #[allow(clippy::cast_precision_loss)]
    let per = |key: &str| delta(key) as f64 / (holds as u64 - released_while_selling) as f64;
    println!(
        "the last hold lapsed at {last_expiry}; every item was back {:.1?} after the wait for it \
         ended ({:.1?} after the last sale)",
        back - lapsed,
        back - sold_at
    );
    println!(
        "per release (the release phase: the sweep's reads, the release, the announcement, and the \
         ticks of the idle auctions meanwhile): {:.2} DynamoDB requests, {:.2} PutEvents entries \
         ({} ItemReleased for {} auctions)",
        per("dynamodbRequests"),
        per("putEventsEntries"),
        stats_after["putEventsByType"]["ItemReleased"]
            .as_u64()
            .unwrap_or(0)
            - stats_before["putEventsByType"]["ItemReleased"]
                .as_u64()
                .unwrap_or(0),
        auctions.len()
    );
    // Every item is back in its auction.
    let remaining: Vec<u64> = futures::stream::iter(&auctions)
        .map(|auction| {
            let (http, base, seller) = (&http, &local.base, &seller);
            async move {
                let snapshot: Value = http
                    .get(format!("{base}/api/auctions/{auction}"))
                    .bearer_auth(seller)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                snapshot["remainingItems"].as_u64().unwrap()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(
        remaining.iter().all(|r| *r == PER_AUCTION as u64 + 1),
        "every item back"
    );
}
