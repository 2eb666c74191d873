//! The auction flow through functions that `cargo lambda watch` runs as separate processes:
//! `auction-local --invoke-url` invokes every function through the Lambda invoke API instead of
//! in process. It needs both running, so it is ignored by `cargo test`; `scripts/check-lambda`
//! starts them and runs it with `AUCTION_LOCAL_URL` set (CI runs that script).

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tests::{Client, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs auction-local --invoke-url and cargo lambda watch: run scripts/check-lambda"]
async fn a_sale_through_functions_run_by_cargo_lambda_watch() {
    let base = std::env::var("AUCTION_LOCAL_URL").expect("AUCTION_LOCAL_URL is set");
    let ws = format!("{}/ws", base.replacen("http", "ws", 1));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    // The http-api function creates the auction.
    let seller = token("sam", "acme", &["seller"]);
    let created: Value = http
        .post(format!("{base}/api/auctions"))
        .bearer_auth(&seller)
        .json(
            &json!({"title": "Tulips", "currency": "EUR", "startPrice": 100, "floorPrice": 20,
                      "priceDrop": 1, "dropIntervalSeconds": 1, "totalItems": 2}),
        )
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["auctionId"].as_str().unwrap();

    // The authorizer, $connect and JoinAuction functions admit and join both clients.
    let buyer_token = token("bob", "acme", &[]);
    let mut buyer = Client::connect_url(&format!("{ws}?token={buyer_token}")).await;
    let viewer_token = token("vera", "acme", &[]);
    let mut viewer = Client::connect_url(&format!("{ws}?token={viewer_token}")).await;
    for client in [&mut buyer, &mut viewer] {
        let state = client.join_and_state(id).await;
        assert_eq!(state["remainingItems"], 2, "{state}");
    }

    // The bid commits; EventBridge's rule invokes the notifier, which posts to both sockets.
    let response = http
        .post(format!("{base}/api/auctions/{id}/bids"))
        .bearer_auth(&buyer_token)
        .json(&json!({"bidPrice": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let won: Value = response.json().await.unwrap();
    let accepted = buyer.next_of("BidAccepted").await;
    assert_eq!(accepted["data"]["bidId"], won["bidId"]);
    let sold = viewer.next_of("ItemSold").await;
    assert_eq!(
        sold["data"],
        json!({"auctionId": id, "remainingItems": 1, "soldItems": 1, "releasedItems": 0})
    );
    // scripts/check-lambda splits every group among fan-out workers: the notifier in watch
    // started them through auction-local's Invoke API.
    let stats: Value = reqwest::get(format!("{base}/_local/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        stats["lambdaInvocations"]["fanout"].as_u64() >= Some(2),
        "{stats}"
    );

    // A malformed frame reaches the $default function and gets its error.
    viewer.send(json!({"action": "Dance"})).await;
    let error = viewer.next_of("Error").await;
    assert_eq!(error["data"]["code"], "UnknownAction", "{error}");
}
