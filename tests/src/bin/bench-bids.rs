//! Bids per second and bid latency through `auction-local`: the HTTP API (API Gateway
//! v2 events into the `lambda_http` router), the DynamoDB transaction on the embedded engine, the
//! events on the local EventBridge and the notifier's pushes, all in the `auction-local` process.
//!
//! `BIDS` bids from `USERS` users (so the per-user limit never applies) with `CONCURRENCY` in
//! flight on one auction of `ITEMS` items; every bid offers the start price, so the first `ITEMS`
//! win and the rest are rejected `SoldOut`. Prints throughput, p50/p99/max latency, and checks
//! that exactly the stock was sold. Run: `cargo build --profile perf -p local -p tests --bins &&
//! target/perf/bench-bids [bids] [items] [concurrency] [users]`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark aborts on any failure

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tests::bench::{percentile, spawn_local};

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let bids = args.first().copied().unwrap_or(20_000);
    let items = args.get(1).copied().unwrap_or(2_000);
    let concurrency = args.get(2).copied().unwrap_or(64);
    let users = args.get(3).copied().unwrap_or(5_000);

    let local = spawn_local(&[]).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let seller = tests::token("seller", "bench", &["seller"]);
    let auction: Value = http
        .post(format!("{}/api/auctions", local.base))
        .bearer_auth(&seller)
        .json(
            &json!({"title": "Bid storm", "currency": "EUR", "startPrice": 1000,
                      "floorPrice": 1, "priceDrop": 1, "dropIntervalSeconds": 3600,
                      "totalItems": items}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = auction["auctionId"].as_str().unwrap().to_owned();
    let url = format!("{}/api/auctions/{id}/bids", local.base);
    let tokens: Vec<String> = (0..users)
        .map(|u| tests::token(&format!("bidder-{u}"), "bench", &[]))
        .collect();
    let stats_before = local.stats(&http).await;

    let started = Instant::now();
    let results: Vec<(u16, Duration)> = futures::stream::iter(0..bids)
        .map(|i| {
            let (http, url, token) = (&http, &url, &tokens[i % users]);
            async move {
                let t0 = Instant::now();
                let response = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"bidPrice": 1000}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let _ = response.bytes().await.unwrap();
                (status, t0.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let stats_after = local.stats(&http).await;

    let accepted = results.iter().filter(|(s, _)| *s == 201).count();
    let rejected = results.iter().filter(|(s, _)| *s == 409).count();
    let other = bids - accepted - rejected;
    let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    #[allow(clippy::cast_precision_loss)]
    let rate = bids as f64 / elapsed.as_secs_f64();
    println!(
        "{bids} bids ({concurrency} in flight, {users} users) on {items} items in {elapsed:.2?}: {rate:.0} bids/s"
    );
    println!(
        "latency p50 {:.1?} p99 {:.1?} max {:.1?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    let snapshot: Value = http
        .get(format!("{}/api/auctions/{id}", local.base))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!(
        "201: {accepted}, 409: {rejected}, other: {other}; remainingItems {} (status {})",
        snapshot["remainingItems"], snapshot["status"]
    );
    let delta = |key: &str| {
        stats_after[key].as_u64().unwrap_or(0) - stats_before[key].as_u64().unwrap_or(0)
    };
    #[allow(clippy::cast_precision_loss)]
    let per_bid = |key: &str| delta(key) as f64 / bids as f64;
    println!(
        "per bid: {:.2} DynamoDB requests, {:.2} PutEvents entries, {:.2} PostToConnection",
        per_bid("dynamodbRequests"),
        per_bid("putEventsEntries"),
        per_bid("postToConnection")
    );
    assert_eq!(accepted, items, "exactly the stock is sold");
    assert_eq!(snapshot["remainingItems"], 0);
    assert_eq!(other, 0, "no errors");
}
