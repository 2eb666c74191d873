//! The product's metrics as `auction-local` shows them at `GET /metrics`: the
//! same names the functions write as EMF lines in Lambda, after real traffic. One test in this
//! file: the process has one recorder, so the counts below are this flow's alone.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use tests::{
    Client, LocalConfig, bid, create_auction, eventually, handshake_status, metrics_text, sample,
    start_with, token,
};

/// A per-shard gauge (`NAME{Shard="N"}`) summed over the shards, if any shard reported it.
fn shard_sum(text: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{Shard=")))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_traffic_did() {
    let stack = start_with(LocalConfig {
        price_update_interval_seconds: 1,
        viewer_count_interval_seconds: 1,
        ..LocalConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let auction = create_auction(&stack, "acme", 3).await;
    let id = auction.id.as_str();

    // A refused handshake.
    assert_eq!(
        handshake_status(&stack, "?token=not-a-jwt").await,
        Some(401)
    );

    let buyer_token = token("buyer", "acme", &[]);
    let mut buyer = Client::connect(&stack, Some(&buyer_token)).await;
    let mut viewer = Client::connect(&stack, Some(&token("viewer", "acme", &[]))).await;
    buyer.join_and_state(id).await;
    viewer.join_and_state(id).await;

    // One sale (BidAccepted to the buyer, ItemSold to the viewer) and one rejection.
    let (status, won) = bid(
        &http,
        &stack,
        Some(&buyer_token),
        id,
        json!({"bidPrice": 100}),
    )
    .await;
    assert_eq!(status, 201, "{won}");
    buyer.next_of("BidAccepted").await;
    viewer.next_of("ItemSold").await;
    let (status, lost) = bid(
        &http,
        &stack,
        Some(&buyer_token),
        id,
        json!({"bidPrice": 1}),
    )
    .await;
    assert_eq!(status, 409, "{lost}");
    viewer.next_of("PriceUpdated").await;

    // The buyer's connection drops and comes back: one reconnection.
    drop(buyer);
    eventually("the dropped connection is disconnected", || async {
        stack
            .adapters
            .connections
            .connections_of_user("acme", "buyer", tests::now())
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    // $disconnect removes the connection before it notes the departure: wait for the note (taking
    // it, then noting it again) so that the reconnection below cannot overtake it.
    let departures = &stack.adapters.departures;
    eventually("the departure is noted", || async {
        departures.take("acme", "buyer").await.unwrap().is_some()
    })
    .await;
    departures
        .note("acme", "buyer", tests::now())
        .await
        .unwrap();
    let mut buyer = Client::connect(&stack, Some(&buyer_token)).await;
    buyer.join_and_state(id).await;

    // The ticker sums the groups once a second. A reply is counted when its post's 200 is back
    // at the function, which can be just after the client has read the frame.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let text = loop {
        let text = metrics_text(&http, &stack).await;
        if shard_sum(&text, "ActiveConnections") == Some(2.0)
            && sample(&text, r#"MessagesSent{Frame="Reply"}"#).is_some_and(|n| n >= 3.0)
        {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ActiveConnections never 2 or fewer than three replies counted:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };

    let value = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(value(r#"FailedConnections{Reason="Unauthorized"}"#), 1.0);
    assert_eq!(value(r#"RejectedBids{Reason="PriceTooLow"}"#), 1.0);
    assert_eq!(value("Reconnections"), 1.0);
    assert_eq!(value(r#"MessagesSent{Frame="BidAccepted"}"#), 1.0);
    assert_eq!(value(r#"MessagesSent{Frame="ItemSold"}"#), 1.0);
    assert_eq!(value(r#"FanOutRecipients{Frame="ItemSold"}"#), 1.0);
    assert_eq!(value(r#"GoneConnections{Frame="ItemSold"}"#), 0.0);
    assert!(
        value(r#"MessagesSent{Frame="Reply"}"#) >= 3.0,
        "three AuctionState replies"
    );
    assert!(value(r#"MessagesSent{Frame="PriceUpdated"}"#) >= 1.0);
    for frame in ["BidAccepted", "ItemSold", "PriceUpdated"] {
        assert!(
            value(&format!(r#"EventToClientLatency_count{{Frame="{frame}"}}"#)) >= 1.0,
            "{frame}"
        );
        assert!(value(&format!(r#"FanOutDuration_count{{Frame="{frame}"}}"#)) >= 1.0);
    }
    // The latency is a real measurement: below a second on one machine.
    let latency = value(r#"EventToClientLatency_sum{Frame="ItemSold"}"#);
    assert!((0.0..1000.0).contains(&latency), "{latency}");
}
