//! The local API Gateway's WebSocket side, printing figures for `docs/performance.md`:
//!
//! 1. N concurrent WebSocket connections to `auction-local` each joining one auction: the
//!    connect+join rate;
//! 2. the resident memory of the `auction-local` process per idle connection;
//! 3. one broadcast to all N through the Management API (one `PostToConnection` per recipient,
//!    the API Gateway shape): time from the start of the broadcast to each client, p50/p99/max.
//!
//! `auction-local` runs as its own process (so its memory is its own) against a DynamoDB engine
//! embedded in this process. Run: `cargo build --profile perf -p local -p tests --bins &&
//! ulimit -n 30000 && target/perf/bench-gateway [connections] [broadcasts]`; `BENCH_RAW_HTTP=1`
//! posts with a bare, unsigned hyper client: the machine's floor.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark aborts on any failure

/// A SigV4 `Authorization` of the right shape with a made-up signature (`BENCH_RAW_HTTP=1`).
const UNSIGNED_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
    Credential=local/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, \
    Signature=0000000000000000000000000000000000000000000000000000000000000000";

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auction_aws::dynamo::{DynamoAuctions, DynamoGroups};
use auction_aws::push::SignedPusher;
use auction_core::domain::CreateAuctionRequest;
use auction_core::ports::{AuctionStore, GroupStore, Pusher};
use futures::{SinkExt, StreamExt};
use infra::embedded::EmbeddedDynamo;
use infra::tables::{AUCTIONS, CONNECTIONS};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn urlencode(id: &str) -> String {
    id.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let connections: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let broadcasts: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);

    let engine = EmbeddedDynamo::in_memory().await.unwrap();
    let dynamo = engine.client();
    CONNECTIONS
        .create(&dynamo, local::CONNECTIONS_TABLE)
        .await
        .unwrap();
    AUCTIONS
        .create(&dynamo, local::AUCTIONS_TABLE)
        .await
        .unwrap();
    let auctions = DynamoAuctions::new(dynamo.clone(), local::AUCTIONS_TABLE);
    let store = DynamoGroups::new(dynamo, local::CONNECTIONS_TABLE, 1);
    let auction = serde_json::from_value::<CreateAuctionRequest>(json!({
        "title": "Benchmark", "currency": "EUR", "startPrice": 1000, "floorPrice": 1,
        "priceDrop": 1, "dropIntervalSeconds": 60, "totalItems": 10
    }))
    .unwrap()
    .validate("public", "bench", tests::now())
    .unwrap();
    auctions.create(&auction).await.unwrap();

    let binary = std::env::current_exe()
        .unwrap()
        .with_file_name("auction-local");
    let mut child = tokio::process::Command::new(&binary)
        .args([
            "--port",
            "0",
            "--no-demo",
            "--dynamodb-endpoint",
            &engine.endpoint(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (build it with cargo build --release -p local)",
                binary.display()
            )
        });
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first.strip_prefix("listening on ").unwrap().to_owned();
    let ws_url = format!("{}/ws", base.replacen("http://", "ws://", 1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib(pid);

    // 1. Connect and join, 200 at a time.
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel::<(u64, Instant)>();
    let join = json!({"action": "JoinAuction", "auctionId": auction.id.to_string()}).to_string();
    let started = Instant::now();
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = 4096;
    config.write_buffer_size = 0;
    let clients = futures::stream::iter(0..connections)
        .map(|_| {
            let ws_url = ws_url.clone();
            let join = join.clone();
            let arrivals_tx = arrivals_tx.clone();
            async move {
                let (mut socket, _) =
                    tokio_tungstenite::connect_async_with_config(ws_url, Some(config), false)
                        .await
                        .unwrap();
                socket.send(Message::Text(join.into())).await.unwrap();
                loop {
                    let frame = socket.next().await.unwrap().unwrap();
                    if frame.to_text().unwrap().contains("AuctionState") {
                        break;
                    }
                }
                tokio::spawn(async move {
                    while let Some(Ok(frame)) = socket.next().await {
                        if let Ok(text) = frame.to_text()
                            && let Some(seq) = text
                                .strip_prefix("{\"seq\":")
                                .and_then(|r| r.split(',').next())
                                .and_then(|s| s.parse().ok())
                        {
                            let _ = arrivals_tx.send((seq, Instant::now()));
                        }
                    }
                });
            }
        })
        .buffer_unordered(200)
        .collect::<Vec<()>>();
    clients.await;
    let join_elapsed = started.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let rate = connections as f64 / join_elapsed.as_secs_f64();
    println!(
        "connect+join: {connections} connections in {join_elapsed:.2?} = {rate:.0} connections/s"
    );
    assert_eq!(
        store.viewer_count(&auction.id, tests::now()).await.unwrap(),
        connections as u64
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = rss_kib(pid);
    #[allow(clippy::cast_precision_loss)]
    let per_connection =
        (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / connections as f64;
    println!(
        "memory: auction-local RSS {rss_before} KiB idle → {rss_after} KiB with {connections} idle connections = {:.1} KB per connection",
        per_connection / 1000.0
    );

    // 3. Broadcasts through the Management API, 64 posts in flight (the functions' pusher).
    let ids: Vec<String> = store
        .members(&auction.id, tests::now())
        .map(|page| page.unwrap())
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .map(|m| m.connection_id)
        .collect();
    assert_eq!(ids.len(), connections);
    let pusher = Arc::new(
        SignedPusher::with_http2_prior_knowledge(&local::local_sdk_config(&base), &base).unwrap(),
    );
    // BENCH_RAW_HTTP=1 posts with a bare HTTP client (unsigned), to separate the gateway's cost
    // from the poster's.
    let raw = std::env::var("BENCH_RAW_HTTP").is_ok_and(|v| v == "1");
    let http: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let concurrency: usize = std::env::var("BENCH_POST_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    println!(
        "posting with {} at {concurrency} in flight",
        if raw {
            "a bare HTTP client (hyper)"
        } else {
            "auction_aws::push::SignedPusher (SigV4 + hyper)"
        }
    );
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    for seq in 0..broadcasts as u64 {
        let payload = format!("{{\"seq\":{seq},\"type\":\"PriceUpdated\",\"data\":{{}}}}");
        let t0 = Instant::now();
        futures::stream::iter(ids.iter())
            .map(|id| {
                let pusher = Arc::clone(&pusher);
                let payload = payload.clone();
                let http = http.clone();
                let url = format!("{base}/@connections/{}", urlencode(id));
                async move {
                    if raw {
                        // Well formed but not computed: auction-local checks a signature's
                        // shape, not its value, so the floor pays no signing.
                        let request = http::Request::post(url)
                            .header("authorization", UNSIGNED_AUTHORIZATION)
                            .header("x-amz-date", "20260101T000000Z")
                            .body(http_body_util::Full::new(bytes::Bytes::from(payload)))
                            .unwrap();
                        let status = http.request(request).await.unwrap().status();
                        assert!(status.is_success(), "{status}");
                    } else {
                        pusher.post(id, &payload).await.unwrap();
                    }
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<()>>()
            .await;
        let mut latencies = Vec::with_capacity(connections);
        while latencies.len() < connections {
            let (got, at) = tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
                .await
                .unwrap()
                .unwrap();
            if got == seq {
                latencies.push(at - t0);
            }
        }
        latencies.sort();
        let (p50, p99, max) = (
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies[connections - 1],
        );
        println!(
            "broadcast {seq}: to {connections} clients p50 {p50:.3?} p99 {p99:.3?} last {max:.3?}"
        );
        p50s.push(p50);
        p99s.push(p99);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    p50s.sort();
    p99s.sort();
    println!(
        "broadcast summary over {broadcasts} runs: median p50 {:.3?}, median p99 {:.3?}, worst p99 {:.3?}",
        p50s[p50s.len() / 2],
        p99s[p99s.len() / 2],
        p99s[p99s.len() - 1]
    );
    child.kill().await.unwrap();
}
