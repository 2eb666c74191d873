//! `kill -9` in the middle of a sweep of lapsed holds, with the embedded engine on disk
//! (`--data-dir`): after a restart on the same directory every hold is released exactly once —
//! none lost (still held, or its item missing) and none twice (an item counted back twice).
//! The `auction-local` binary runs as its own process, as a developer runs it.

#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const AUCTIONS: usize = 10;
const ITEMS: u64 = 100;

/// `auction-local` with `args`, and its `http://host:port` once it listens.
async fn spawn(args: &[&str]) -> (Child, String) {
    // `cargo test --workspace` builds the workspace's binaries beside the test executables.
    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("auction-local");
    let mut child = Command::new(&binary)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("auction-local starts")
        .unwrap()
        .unwrap();
    let base = first.strip_prefix("listening on ").unwrap().to_owned();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

async fn get(http: &reqwest::Client, url: String, token: &str) -> Value {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The auctions' snapshots, summed: (held, released, sold, remaining).
async fn counts(http: &reqwest::Client, base: &str, ids: &[String], token: &str) -> [u64; 4] {
    let mut sum = [0; 4];
    for id in ids {
        let snapshot = get(http, format!("{base}/api/auctions/{id}"), token).await;
        for (i, field) in ["heldItems", "releasedItems", "soldItems", "remainingItems"]
            .iter()
            .enumerate()
        {
            sum[i] += snapshot[field].as_u64().unwrap();
        }
    }
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_killed_mid_way_releases_every_hold_exactly_once_after_a_restart() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("auction-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.to_str().unwrap().to_owned();
    // One live-index shard releases 100 lapsed holds a tick: 1,000 take about ten ticks.
    let args = [
        "--port",
        "0",
        "--no-demo",
        "--data-dir",
        &dir_arg,
        "--live-index-shards",
        "1",
        "--bid-rate-limit",
        "100000",
        "--price-update-interval",
        "1",
    ];
    let (mut first, base) = spawn(&args).await;
    let http = reqwest::Client::new();
    let seller = tests::token("seller", "public", &["seller"]);
    let buyer = tests::token("buyer", "public", &[]);

    // Ten auctions of 100 items whose prices fall for hours; every item won, held for 3 s.
    let mut ids = Vec::new();
    for _ in 0..AUCTIONS {
        let created: Value = http
            .post(format!("{base}/api/auctions"))
            .bearer_auth(&seller)
            .json(&json!({
                "title": "Crash", "currency": "EUR", "startPrice": 100, "floorPrice": 20,
                "priceDrop": 1, "dropIntervalSeconds": 600, "totalItems": ITEMS,
                "reservationTtlSeconds": 3
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(created["auctionId"].as_str().unwrap().to_owned());
    }
    let bids = ids
        .iter()
        .flat_map(|id| (0..ITEMS).map(move |_| id.clone()));
    let reservations: Vec<String> = futures::stream::iter(bids)
        .map(|id| {
            let (http, base, buyer) = (&http, &base, &buyer);
            async move {
                let response = http
                    .post(format!("{base}/api/auctions/{id}/bids"))
                    .bearer_auth(buyer)
                    .json(&json!({"bidPrice": 100}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 201);
                let body: Value = response.json().await.unwrap();
                body["reservationId"].as_str().unwrap().to_owned()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let total = AUCTIONS as u64 * ITEMS;
    assert_eq!(reservations.len() as u64, total);

    // Kill -9 once the sweep has started and before it has finished.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let [held, released, ..] = counts(&http, &base, &ids, &buyer).await;
        if released > 0 {
            first.start_kill().unwrap();
            break (held, released);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweep never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    first.wait().await.unwrap();
    assert!(at_kill.0 > 0, "killed mid-sweep: {at_kill:?}");
    println!(
        "killed with {} of {total} holds released, {} still held",
        at_kill.1, at_kill.0
    );

    // Restarted on the same data: the sweep carries on from where the store says it was.
    let (_second, base) = spawn(&args).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let [held, released, sold, remaining] = counts(&http, &base, &ids, &buyer).await;
        assert!(
            released <= sold,
            "an item came back twice: {released} > {sold}"
        );
        if held == 0 {
            // Every sale's hold lapsed and came back once: all items are available again.
            assert_eq!((released, sold, remaining), (total, total, total));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{held} holds never released"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let states: Vec<Value> = futures::stream::iter(&reservations)
        .map(|id| {
            let (http, base, buyer) = (&http, &base, &buyer);
            async move { get(http, format!("{base}/api/reservations/{id}"), buyer).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        states.iter().all(|r| r["state"] == "Expired"),
        "every hold ended released"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
