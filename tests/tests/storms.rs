//! Crowds and bad neighbours: a reconnect storm whose replies time out, and a socket that floods
//! messages and never reads, against `auction-local` with real sockets.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tests::{Client, LocalConfig, create_auction, is_periodic, start, start_with, token};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The two crowds run one after the other: each measures what others do to a stack on 2 cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The first frame that is not a periodic broadcast, within `wait`.
async fn first_event(client: &mut Client, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    while let Some(frame) = client
        .next_any_within(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        if !is_periodic(&frame) {
            return Some(frame);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_storm_gets_every_snapshot_even_when_replies_time_out() {
    const CLIENTS: usize = 300;
    let _serial = ONE_AT_A_TIME.lock().await;
    let stack = start().await;
    let auction = create_auction(&stack, "public", 5).await;
    // The first posts hang past the pusher's 5 s timeout, as a post did in a 2,000-client storm.
    let response = http()
        .post(format!("{}/_local/faults/management", stack.http_url()))
        .json(&json!({"fault": "timeout", "operation": "PostToConnection", "count": 5, "delayMs": 6000}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let firsts = futures::future::join_all((0..CLIENTS).map(|i| {
        let (stack, auction_id) = (&stack, auction.id.as_str());
        async move {
            let mut client =
                Client::connect(stack, Some(&token(&format!("viewer-{i}"), "public", &[]))).await;
            client.join(auction_id).await;
            first_event(&mut client, Duration::from_secs(30)).await
        }
    }))
    .await;
    for (i, first) in firsts.iter().enumerate() {
        let first = first
            .as_ref()
            .unwrap_or_else(|| panic!("viewer-{i} got nothing"));
        assert_eq!(first["type"], "AuctionState", "viewer-{i}: {first}");
    }
    let rules: Value = http()
        .get(format!("{}/_local/faults", stack.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules["rules"][0]["injected"], 5, "{rules}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooder_that_never_reads_slows_no_one_else() {
    const VIEWERS: usize = 50;
    const RUN: Duration = Duration::from_secs(8);
    let _serial = ONE_AT_A_TIME.lock().await;
    let stack = start_with(LocalConfig {
        price_update_interval_seconds: 1,
        ..LocalConfig::default()
    })
    .await;
    let auction = create_auction(&stack, "public", 5).await;
    let mut viewers = Vec::new();
    for i in 0..VIEWERS {
        let mut client =
            Client::connect(&stack, Some(&token(&format!("viewer-{i}"), "public", &[]))).await;
        client.join_and_state(auction.id.as_str()).await;
        viewers.push(client);
    }
    let mut flooder = Client::connect(&stack, Some(&token("flooder", "public", &[]))).await;
    flooder.join_and_state(auction.id.as_str()).await;

    // 5,000 Pings a second (500 times its budget), and never a read. Faster, the flooding task
    // would take this process's CPU from the stack, which a remote flooder cannot.
    let (mut flood, unread) = flooder.socket.split();
    let flooding = tokio::spawn(async move {
        let ping = json!({"action": "Ping"}).to_string();
        let end = Instant::now() + RUN;
        let mut sent = 0_u64;
        while Instant::now() < end {
            let send = flood.send(Message::text(ping.clone()));
            match tokio::time::timeout_at(end, send).await {
                Ok(Ok(())) => sent += 1,
                Ok(Err(_)) | Err(_) => break,
            }
            if sent.is_multiple_of(50) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        (sent, flood)
    });

    // Everyone else: a PriceUpdated every second, never a gap the flooder made.
    let counts = futures::future::join_all(viewers.iter_mut().map(|viewer| async move {
        let end = Instant::now() + RUN;
        let (mut updates, mut last, mut widest) = (0, Instant::now(), Duration::ZERO);
        while let Some(frame) = viewer
            .next_any_within(end.saturating_duration_since(Instant::now()))
            .await
        {
            if frame["type"] == "PriceUpdated" {
                updates += 1;
                widest = widest.max(last.elapsed());
                last = Instant::now();
            }
        }
        (updates, widest.max(last.elapsed()))
    }))
    .await;
    let (sent, flood) = flooding.await.unwrap();
    assert!(sent > 100, "the flooder sent {sent} messages");
    for (i, (updates, widest)) in counts.iter().enumerate() {
        assert!(
            *updates >= 6 && *widest < Duration::from_millis(1_900),
            "viewer-{i}: {updates} PriceUpdated in {RUN:?}, widest gap {widest:?} (flooder sent {sent})"
        );
    }

    // The flooder's own answers stopped at its budget (10 messages per 10 s, the join included).
    let mut flooder = Client {
        socket: flood.reunite(unread).unwrap(),
    };
    let mut pongs = 0;
    while let Some(frame) = flooder.next_any_within(Duration::from_millis(500)).await {
        if frame["type"] == "Pong" {
            pongs += 1;
        }
    }
    assert!(pongs <= 20, "{pongs} Pongs for {sent} Pings");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_hundreds_of_auctions_does_not_silence_another() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let stack = start_with(LocalConfig {
        price_update_interval_seconds: 1,
        ..LocalConfig::default()
    })
    .await;
    // More live auctions than the ticker once kept (500), all starting before the victim's.
    let start = tests::now().plus_seconds(-60);
    futures::stream::iter(0..600)
        .map(|_| tests::create_auction_at(&stack, "evil", 1, start))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let victim = create_auction(&stack, "victim", 1).await;
    let mut viewer = Client::connect(&stack, Some(&token("viewer", "victim", &[]))).await;
    viewer.join_and_state(victim.id.as_str()).await;
    // Once a tick went past the first 500, the victim's price is pushed every tick that can.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    let mut updates = 0;
    while updates < 2 {
        let frame = viewer
            .next_any_within(deadline.saturating_duration_since(Instant::now()))
            .await
            .unwrap_or_else(|| panic!("{updates} PriceUpdated in 20 s"));
        if frame["type"] == "PriceUpdated" {
            updates += 1;
        }
    }
}
