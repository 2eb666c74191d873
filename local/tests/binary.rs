//! The README's first command, as a person runs it: the `auction-local` binary prints where it
//! listens and the demo auction, and a WebSocket client joins that auction and sees its state.

#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_demo_auction() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auction-local"))
        .args([
            "--port",
            "0",
            "--price-update-interval",
            "1",
            "--viewer-count-interval",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("auction-local prints in time")
            .unwrap()
            .expect("a line")
    };
    let first = next_line().await;
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.ends_with(":0"), "the real port is printed: {url}");
    let second = next_line().await;
    let auction_id = second
        .strip_prefix("demo auction ")
        .unwrap_or_else(|| panic!("second line: {second:?}"));

    let ws_url = format!("{}/ws", url.replacen("http://", "ws://", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let join = format!(r#"{{"action":"JoinAuction","auctionId":"{auction_id}"}}"#);
    socket.send(Message::Text(join.into())).await.unwrap();
    let mut next_frame = async || {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        serde_json::from_str::<serde_json::Value>(frame.to_text().unwrap()).unwrap()
    };
    // The ticker's broadcasts may arrive around the join's answer.
    let mut frame = next_frame().await;
    while frame["type"] == "PriceUpdated" || frame["type"] == "ViewerCountUpdated" {
        frame = next_frame().await;
    }
    assert_eq!(frame["type"], "AuctionState");
    assert_eq!(frame["data"]["auctionId"], auction_id);
    assert_eq!(frame["data"]["tenantId"], "public");
    assert_eq!(frame["data"]["status"], "Active");
    assert_eq!(frame["data"]["dropIntervalSeconds"], 1);
    // The schedule runs the price ticker: the falling price arrives within a couple of seconds.
    let mut frame = next_frame().await;
    while frame["type"] != "PriceUpdated" {
        frame = next_frame().await;
    }
    assert_eq!(frame["data"]["auctionId"], auction_id);

    let token = std::process::Command::new(env!("CARGO_BIN_EXE_auction-local"))
        .args([
            "token", "--sub", "alice", "--tenant", "public", "--role", "seller", "--ttl", "60",
        ])
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap();
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");
    child.kill().await.unwrap();

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_auction-local"))
        .args(["--port", "0", "--price-update-interval", "0"])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "an interval of 0 is refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("price-update-interval"));
}
