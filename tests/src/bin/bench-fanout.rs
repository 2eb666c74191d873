//! The price ticker's fan-out through `auction-local`, printing figures for
//! `docs/performance.md`:
//!
//! 1. `PriceUpdated` to N viewers of one auction: from the tick (the frame's `sentAt`, stamped
//!    before the fan-out starts) to each client's receipt, p50/p99/last per push. The ticker runs
//!    in `auction-local` exactly as the `price-ticker` function: members read from the store,
//!    one signed `PostToConnection` per viewer through `auction_aws::push::SignedPusher`. Also the CPU
//!    that `auction-local` and the clients spend per push.
//! 2. `PostToConnection` calls and DynamoDB requests per viewer-minute, read from
//!    `auction-local`'s counters, while the N viewers join and during one idle minute, next to
//!    what a naive design (a viewer-count broadcast on every join, a price push every second)
//!    would need for the same traffic.
//!
//! Run: `cargo build --profile perf -p local -p tests --bins && ulimit -n 30000 &&
//! target/perf/bench-fanout [viewers] [pushes]`. `BENCH_SHARDS` sets membership shards,
//! `BENCH_FANOUT_CONCURRENCY` the posts in flight, `BENCH_SKIP_IDLE=1` skips the idle minute,
//! `BENCH_LARGE_GROUP_VIEWERS` the group size from which pushes come every 30 s with the count
//! riding along (default: the product's 1,000, so 10,000 viewers are a large group; a value above
//! the viewers measures the 5 s cadence of a small group). `BENCH_FANOUT_WORKER_MEMBERS` and
//! `BENCH_FANOUT_POST_BUDGET` set the group size from which the push is split by membership shard
//! among fan-out workers (tasks of their own in `auction-local`; it needs `BENCH_SHARDS` ≥ 2) and
//! the posts per second the workers may spend together (default 1,000,000: unpaced).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark aborts on any failure

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tests::bench::{percentile, process_cpu, spawn_local};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// (sentAt, receivedAt) of every `PriceUpdated` seen by any client.
type Arrivals = Arc<Mutex<Vec<(i64, i64)>>>;

fn epoch_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[allow(clippy::cast_precision_loss)]
fn per_viewer_minute(count: u64, viewers: usize, elapsed: Duration) -> f64 {
    count as f64 / viewers as f64 / (elapsed.as_secs_f64() / 60.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let viewers = args.first().copied().unwrap_or(10_000);
    let pushes = args.get(1).copied().unwrap_or(6);
    let shards = std::env::var("BENCH_SHARDS").unwrap_or_else(|_| "1".into());
    let concurrency = std::env::var("BENCH_FANOUT_CONCURRENCY").unwrap_or_else(|_| "256".into());
    let large_group = std::env::var("BENCH_LARGE_GROUP_VIEWERS").unwrap_or_else(|_| "1000".into());
    let worker_members =
        std::env::var("BENCH_FANOUT_WORKER_MEMBERS").unwrap_or_else(|_| "5000".into());
    let worker_budget =
        std::env::var("BENCH_FANOUT_POST_BUDGET").unwrap_or_else(|_| "1000000".into());
    let local = spawn_local(&[
        "--large-group-viewers",
        &large_group,
        "--price-update-interval",
        "5",
        "--viewer-count-interval",
        "5",
        "--membership-shards",
        &shards,
        "--fanout-concurrency",
        &concurrency,
        "--fanout-worker-members",
        &worker_members,
        "--fanout-post-budget",
        &worker_budget,
    ])
    .await;
    let http = reqwest::Client::new();
    let seller = tests::token("seller", "public", &["seller"]);
    let auction: Value = http
        .post(format!("{}/api/auctions", local.base))
        .bearer_auth(&seller)
        .json(
            &json!({"title": "Fan-out", "currency": "EUR", "startPrice": 100000,
                      "floorPrice": 1, "priceDrop": 1, "dropIntervalSeconds": 1,
                      "totalItems": 10}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = auction["auctionId"].as_str().unwrap().to_owned();

    // Connect and join, 200 at a time; each client records (sentAt, receivedAt) of PriceUpdated
    // in a shared list that the main task collects every 50 ms: a channel would wake the main
    // task once per arrival, CPU taken from auction-local on the same two cores.
    let arrivals: Arrivals = Arc::default();
    let join = json!({"action": "JoinAuction", "auctionId": id}).to_string();
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = 4096;
    config.write_buffer_size = 0;
    let stats_start = local.stats(&http).await;
    let joining = Instant::now();
    let ws_url = local.ws_url();
    futures::stream::iter(0..viewers)
        .map(|_| {
            let (ws_url, join, arrivals) = (ws_url.clone(), join.clone(), Arc::clone(&arrivals));
            async move {
                let (mut socket, _) =
                    tokio_tungstenite::connect_async_with_config(ws_url, Some(config), false)
                        .await
                        .unwrap();
                socket.send(Message::Text(join.into())).await.unwrap();
                tokio::spawn(async move {
                    while let Some(Ok(frame)) = socket.next().await {
                        let Ok(text) = frame.to_text() else { continue };
                        if !text.contains("\"PriceUpdated\"") {
                            continue;
                        }
                        let received = epoch_ms();
                        // The envelope ends with `"sentAt":N}`; a substring keeps the harness's
                        // CPU (which shares the cores with auction-local) low.
                        let sent = text
                            .rsplit_once("\"sentAt\":")
                            .and_then(|(_, rest)| rest.trim_end_matches('}').parse().ok())
                            .unwrap();
                        arrivals.lock().unwrap().push((sent, received));
                    }
                });
            }
        })
        .buffer_unordered(200)
        .collect::<Vec<()>>()
        .await;
    let join_elapsed = joining.elapsed();
    // Let the last joins' AuctionState and a count push settle.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let join_window = joining.elapsed();
    let stats_joined = local.stats(&http).await;
    println!(
        "{viewers} viewers joined in {join_elapsed:.1?} ({shards} membership shard(s), {concurrency} posts in flight, large groups from {large_group} viewers, fan-out workers from {worker_members} members at {worker_budget} posts/s in all)"
    );

    // 1. Pushes: group arrivals by sentAt until `pushes` complete pushes were seen.
    arrivals.lock().unwrap().clear();
    let cpu_start = (process_cpu(local.pid), process_cpu(std::process::id()));
    let mut by_push: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut complete = Vec::new();
    // A large group is pushed every 30 s, a small one every 5 s.
    let every = if viewers >= large_group.parse::<usize>().unwrap_or(usize::MAX) {
        30
    } else {
        5
    };
    let deadline =
        Instant::now() + Duration::from_secs(u64::try_from(pushes).unwrap() * every + 30);
    while complete.len() < pushes && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let batch = std::mem::take(&mut *arrivals.lock().unwrap());
        for (sent, received) in batch {
            let entry = by_push.entry(sent).or_default();
            entry.push(received - sent);
            if entry.len() == viewers && complete.len() < pushes {
                complete.push(sent);
            }
        }
    }
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    for sent in &complete {
        let mut latencies: Vec<Duration> = by_push[sent]
            .iter()
            .map(|ms| Duration::from_millis(u64::try_from(*ms).unwrap_or(0)))
            .collect();
        latencies.sort();
        let (p50, p99, last) = (
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies[latencies.len() - 1],
        );
        println!("PriceUpdated to {viewers}: tick → client p50 {p50:?} p99 {p99:?} last {last:?}");
        p50s.push(p50);
        p99s.push(p99);
    }
    assert_eq!(complete.len(), pushes, "every viewer got every push");
    let cpu_local = process_cpu(local.pid) - cpu_start.0;
    let cpu_clients = process_cpu(std::process::id()) - cpu_start.1;
    #[allow(clippy::cast_possible_truncation)]
    let per_push = |cpu: Duration| cpu / pushes as u32;
    println!(
        "CPU per push (the push phase's CPU over {pushes} pushes, idle ticks between them included): \
         auction-local {:?}, benchmark process (the {viewers} clients) {:?}",
        per_push(cpu_local),
        per_push(cpu_clients)
    );
    p50s.sort();
    p99s.sort();
    println!(
        "summary over {pushes} pushes: median p50 {:?}, median p99 {:?}, worst p99 {:?}",
        p50s[p50s.len() / 2],
        p99s[p99s.len() / 2],
        p99s[p99s.len() - 1]
    );

    if std::env::var("BENCH_SKIP_IDLE").is_ok_and(|v| v == "1") {
        return;
    }
    // 2. One idle minute.
    let idle_start = local.stats(&http).await;
    let idle = Instant::now();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let idle_elapsed = idle.elapsed();
    let idle_end = local.stats(&http).await;
    let delta = |a: &Value, b: &Value, key: &str| {
        b[key].as_u64().unwrap_or(0) - a[key].as_u64().unwrap_or(0)
    };
    println!(
        "idle minute: {:.2} PostToConnection and {:.4} DynamoDB requests per viewer-minute",
        per_viewer_minute(
            delta(&idle_start, &idle_end, "postToConnection"),
            viewers,
            idle_elapsed
        ),
        per_viewer_minute(
            delta(&idle_start, &idle_end, "dynamodbRequests"),
            viewers,
            idle_elapsed
        ),
    );
    let join_posts = delta(&stats_start, &stats_joined, "postToConnection");
    let join_dynamo = delta(&stats_start, &stats_joined, "dynamodbRequests");
    println!(
        "join phase ({join_window:.1?}): {join_posts} PostToConnection ({:.2} per viewer-minute), {join_dynamo} DynamoDB requests ({:.2} per viewer-minute)",
        per_viewer_minute(join_posts, viewers, join_window),
        per_viewer_minute(join_dynamo, viewers, join_window),
    );
    // The naive design: a ViewerCountUpdated to the whole group on every join (the k-th join
    // posts to k viewers) plus AuctionState to the joiner, and a price push every 5 s.
    let n = u64::try_from(viewers).unwrap();
    let naive_join_posts = n * (n + 1) / 2 + n;
    #[allow(clippy::cast_precision_loss)]
    let price_pushes_in_window = join_window.as_secs_f64() / 5.0;
    println!(
        "naive design, same joins: {naive_join_posts} PostToConnection ({:.0} per viewer-minute) + {:.0} for 5 s price pushes; idle minute: 12.00 per viewer-minute",
        per_viewer_minute(naive_join_posts, viewers, join_window),
        price_pushes_in_window * n as f64 / 2.0
    );
}
