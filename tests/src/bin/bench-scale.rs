//! The price ticker over many live auctions, through `auction-local`, printing figures for
//! `docs/performance.md`:
//!
//! - A auctions of four tenants (or, with `BENCH_STARVATION=1`, all but one of one tenant), in
//!   `BENCH_LIVE_SHARDS` (8) partitions of the live index, a price-update interval of 1 s;
//! - one viewer on each of S sampled auctions (the starvation run samples the lone tenant's too):
//!   the widest gap between two `PriceUpdated` each viewer saw, against the interval + 1 s;
//! - the ticker's own figures from `/metrics` (tick duration, overruns, live auctions) and
//!   `auction-local`'s CPU per tick and per 1,000 auctions.
//!
//! Run: `cargo build --profile perf -p local -p tests --bins && ulimit -n 30000 &&
//! target/perf/bench-scale [auctions] [sampled] [seconds]`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark aborts on any failure

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tests::bench::{percentile, process_cpu, spawn_local};
use tokio_tungstenite::tungstenite::Message;

const TENANTS: [&str; 4] = ["t0", "t1", "t2", "t3"];

/// One counter or histogram line of the Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(http: &reqwest::Client, base: &str) -> String {
    http.get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let auctions = args.first().copied().unwrap_or(2_000);
    let sampled = args.get(1).copied().unwrap_or(100).min(auctions);
    let seconds = args.get(2).copied().unwrap_or(30);
    let starvation = std::env::var("BENCH_STARVATION").is_ok_and(|v| v == "1");
    let shards = std::env::var("BENCH_LIVE_SHARDS").unwrap_or_else(|_| "8".into());
    let local = spawn_local(&[
        "--price-update-interval",
        "1",
        "--viewer-count-interval",
        "5",
        "--live-index-shards",
        &shards,
        "--max-live-auctions-per-tenant",
        "1000000",
        "--create-rate-limit",
        "1000000",
    ])
    .await;
    let http = reqwest::Client::new();

    // The auctions: long ones (a drop a second for a day), created through the HTTP API.
    let tenant_of = |i: usize| {
        if starvation {
            if i + 1 == auctions { "victim" } else { "evil" }
        } else {
            TENANTS[i % TENANTS.len()]
        }
    };
    let created = Instant::now();
    let ids: Vec<(String, String)> = futures::stream::iter(0..auctions)
        .map(|i| {
            let (http, base) = (&http, &local.base);
            async move {
                let tenant = tenant_of(i);
                let seller = tests::token("seller", tenant, &["seller"]);
                let body: Value = http
                    .post(format!("{base}/api/auctions"))
                    .bearer_auth(&seller)
                    .json(&json!({"title": format!("Lot {i}"), "currency": "EUR",
                                  "startPrice": 100000, "floorPrice": 1, "priceDrop": 1,
                                  "dropIntervalSeconds": 1, "totalItems": 1}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let id = body["auctionId"].as_str().expect("created").to_owned();
                (tenant.to_owned(), id)
            }
        })
        .buffered(32)
        .collect()
        .await;
    println!(
        "created {auctions} auctions in {:.1} s ({} live-index shards{})",
        created.elapsed().as_secs_f64(),
        shards,
        if starvation {
            ", all but one of tenant evil"
        } else {
            ", 4 tenants"
        }
    );

    // One viewer on every (auctions / sampled)-th auction; the last auction always (the victim).
    let step = (auctions / sampled).max(1);
    let mut picks: Vec<usize> = (0..auctions).step_by(step).take(sampled).collect();
    if !picks.contains(&(auctions - 1)) {
        picks.pop();
        picks.push(auctions - 1);
    }
    let window = Duration::from_secs(u64::try_from(seconds).unwrap());
    // Let the tick that was running during the creations finish outside the window.
    let settle = scrape(&http, &local.base).await;
    while metric(&scrape(&http, &local.base).await, "TickDuration_count")
        < metric(&settle, "TickDuration_count") + 2.0
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = scrape(&http, &local.base).await;
    let cpu_before = process_cpu(local.pid);
    let started = Instant::now();
    let viewers = picks.iter().map(|&i| {
        let (tenant, id) = ids[i].clone();
        let url = format!(
            "{}?token={}",
            local.ws_url(),
            tests::token(&format!("viewer-{i}"), &tenant, &[])
        );
        tokio::spawn(async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            socket
                .send(Message::text(
                    json!({"action": "JoinAuction", "auctionId": id}).to_string(),
                ))
                .await
                .unwrap();
            let joined = Instant::now();
            let end = started + window;
            let (mut last, mut widest, mut updates) = (joined, Duration::ZERO, 0_u32);
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout_at(end.into(), socket.next()).await
            {
                if let Message::Text(text) = message
                    && text.contains("\"PriceUpdated\"")
                {
                    widest = widest.max(last.elapsed());
                    last = Instant::now();
                    updates += 1;
                }
            }
            (i, updates, widest.max(last.elapsed()))
        })
    });
    let seen: Vec<(usize, u32, Duration)> = futures::future::join_all(viewers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let elapsed = started.elapsed();
    let cpu = process_cpu(local.pid) - cpu_before;
    let after = scrape(&http, &local.base).await;

    let ticks = metric(&after, "TickDuration_count") - metric(&before, "TickDuration_count");
    let tick_ms =
        (metric(&after, "TickDuration_sum") - metric(&before, "TickDuration_sum")) / ticks;
    let overruns = metric(&after, "TickOverruns") - metric(&before, "TickOverruns");
    // The ticker runs one run per live-index shard, each ticking its part: `TickDuration` counts
    // every shard's ticks, and the `LiveAuctions` gauge holds the last shard's count only.
    let shard_count: f64 = shards.parse().unwrap();
    #[allow(clippy::cast_precision_loss)]
    let live = auctions as f64;
    let mut gaps: Vec<Duration> = seen.iter().map(|(_, _, gap)| *gap).collect();
    gaps.sort();
    let late = gaps.iter().filter(|g| **g > Duration::from_secs(2)).count();
    let victim = seen.iter().find(|(i, _, _)| *i == auctions - 1).unwrap();
    // CPU per second of ticking, over every shard: what one second of the whole platform costs.
    let cpu_per_second_ms = cpu.as_secs_f64() * 1000.0 / elapsed.as_secs_f64();
    println!(
        "{live} live auctions in {shard_count} shards, {ticks} shard ticks in {:.1} s ({:.1} per shard): \
         shard tick {tick_ms:.0} ms mean, {overruns} overruns; auction-local CPU {cpu_per_second_ms:.0} ms \
         per second = {:.0} ms per second per 1,000 auctions (viewers included)",
        elapsed.as_secs_f64(),
        ticks / shard_count,
        cpu_per_second_ms * 1000.0 / live.max(1.0),
    );
    println!(
        "{} sampled viewers: widest gap between PriceUpdated p50 {:?}, p99 {:?}, max {:?}; {late} over interval + 1 s (2 s)",
        gaps.len(),
        percentile(&gaps, 0.5),
        percentile(&gaps, 0.99),
        gaps.last().unwrap(),
    );
    println!(
        "the last-created auction ({}): {} PriceUpdated, widest gap {:?}",
        tenant_of(auctions - 1),
        victim.1,
        victim.2
    );
}
