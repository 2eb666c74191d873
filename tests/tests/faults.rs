//! Fault injection through the real SDK clients (`local::faults`): DynamoDB throttles, fails and
//! loses answers, EventBridge throttles and fails entries, the Management API throttles and
//! fails, and still no bid is lost or sold twice, every sale reaches its buyer, no connection row
//! outlives its socket, and every client sees a documented error.

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use auction_core::domain::{AuctionId, BidId, BidOutcome};
use serde_json::{Value, json};
use tests::{Client, Running, bid, create_auction, start, token};

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Adds a rule through `POST /_local/faults/{service}`.
async fn inject(stack: &Running, service: &str, rule: Value) {
    let response = http()
        .post(format!("{}/_local/faults/{service}", stack.http_url()))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        201,
        "{rule}: {}",
        response.text().await.unwrap()
    );
}

/// Removes every rule and returns how often each fired.
async fn heal(stack: &Running) -> Vec<Value> {
    let url = format!("{}/_local/faults", stack.http_url());
    let rules: Value = http().get(&url).send().await.unwrap().json().await.unwrap();
    let response = http().delete(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    rules["rules"].as_array().unwrap().clone()
}

/// Waits up to `within` for `check`.
async fn eventually_within<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Bids until the answer is final, resending the same `bidId` after a 5xx as a client should.
/// Every 5xx on the way must be problem+json with a `Retry-After` or a documented type.
async fn bid_until_decided(
    stack: &Running,
    user: &str,
    auction: &AuctionId,
    bid_id: &BidId,
) -> (u16, Value) {
    let token = token(user, "public", &[]);
    for _ in 0..40 {
        let (status, body) = bid(
            &http(),
            stack,
            Some(&token),
            auction.as_str(),
            json!({"bidPrice": 100, "bidId": bid_id.as_str()}),
        )
        .await;
        if status < 500 {
            return (status, body);
        }
        assert!(
            [500, 503].contains(&status) && body["status"] == status && body["title"].is_string(),
            "an undocumented failure: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{user}'s bid was never decided");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bid_storm_under_faults_sells_each_item_once_and_tells_every_buyer() {
    const ITEMS: u32 = 8;
    const BIDDERS: usize = 24;
    let stack = start().await;
    let auction = create_auction(&stack, "public", ITEMS).await;
    let mut sockets = Vec::new();
    for i in 0..BIDDERS {
        let mut client =
            Client::connect(&stack, Some(&token(&format!("buyer-{i}"), "public", &[]))).await;
        client.join_and_state(auction.id.as_str()).await;
        sockets.push(client);
    }

    // Every kind of failure at once, on the operations a sale goes through.
    let faults = [
        (
            "dynamodb",
            json!({"fault": "throttle", "operation": "TransactWriteItems", "ratio": 0.3}),
        ),
        (
            "dynamodb",
            json!({"fault": "lost-response", "operation": "TransactWriteItems", "count": 3}),
        ),
        (
            "dynamodb",
            json!({"fault": "server-error", "operation": "GetItem", "ratio": 0.2}),
        ),
        (
            "dynamodb",
            json!({"fault": "throttle", "operation": "UpdateItem", "ratio": 0.5}),
        ),
        ("events", json!({"fault": "partial", "ratio": 0.5})),
        ("events", json!({"fault": "server-error", "count": 4})),
        ("events", json!({"fault": "throttle", "count": 4})),
        (
            "management",
            json!({"fault": "server-error", "operation": "PostToConnection", "ratio": 0.2}),
        ),
        (
            "management",
            json!({"fault": "throttle", "operation": "PostToConnection", "ratio": 0.1}),
        ),
    ];
    for (service, rule) in faults {
        inject(&stack, service, rule).await;
    }

    let bids: Vec<BidId> = (0..BIDDERS).map(|_| BidId::generate()).collect();
    let answers = futures::future::join_all(bids.iter().enumerate().map(|(i, bid_id)| {
        let (stack, auction_id) = (&stack, &auction.id);
        async move { bid_until_decided(stack, &format!("buyer-{i}"), auction_id, bid_id).await }
    }))
    .await;
    let fired = heal(&stack).await;
    assert!(
        fired
            .iter()
            .all(|rule| rule["injected"].as_u64().unwrap() > 0),
        "every fault was made: {fired:#?}"
    );

    // What the buyers were told is what the store holds: no bid lost, none sold twice.
    let mut told_accepted = HashSet::new();
    for (i, (status, body)) in answers.iter().enumerate() {
        match status {
            201 | 200 => {
                assert_eq!(body["status"], "Accepted", "{body}");
                told_accepted.insert(i);
            }
            409 => assert_eq!(body["reason"], "AllReserved", "{body}"),
            other => panic!("buyer-{i}: {other} {body}"),
        }
        let stored = stack.adapters.bids.find(&bids[i]).await.unwrap();
        let accepted = matches!(stored.map(|s| s.outcome), Some(BidOutcome::Accepted(_)));
        assert_eq!(
            accepted,
            told_accepted.contains(&i),
            "buyer-{i}: told {status} {body}"
        );
    }
    assert_eq!(told_accepted.len(), ITEMS as usize, "every item sold once");
    let after = stack
        .adapters
        .auctions
        .get(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.remaining_items, 0);

    // Every buyer hears of the sale, through the bidder's push or the outbox sweep; a repeat
    // has the same bidId (delivery is at least once).
    let mut heard: HashMap<usize, usize> = HashMap::new();
    for &i in &told_accepted {
        let socket = &mut sockets[i];
        let expected = bids[i].as_str();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            let Some(frame) = socket.next_any_within(Duration::from_millis(500)).await else {
                continue;
            };
            if frame["type"] == "BidAccepted" {
                assert_eq!(
                    frame["data"]["bidId"], expected,
                    "only the buyer's own sale: {frame}"
                );
                *heard.entry(i).or_default() += 1;
                break;
            }
        }
        assert!(heard.contains_key(&i), "buyer-{i} never heard of the sale");
    }
    // The outbox is empty once every sale is on the bus.
    eventually_within("the outbox drained", Duration::from_secs(10), || async {
        stack
            .adapters
            .outbox
            .pending(tests::now().plus_seconds(60), 10)
            .await
            .is_ok_and(|p| p.is_empty())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_take_a_bid_answers_503_and_changes_nothing() {
    let stack = start().await;
    let auction = create_auction(&stack, "public", 2).await;
    inject(
        &stack,
        "dynamodb",
        json!({"fault": "throttle", "operation": "TransactWriteItems"}),
    )
    .await;
    let bid_id = BidId::generate();
    let token = token("buyer", "public", &[]);
    let body = json!({"bidPrice": 100, "bidId": bid_id.as_str()});
    let response = http()
        .post(format!(
            "{}/api/auctions/{}/bids",
            stack.http_url(),
            auction.id.as_str()
        ))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 503, "{problem}");
    assert!(stack.adapters.bids.find(&bid_id).await.unwrap().is_none());
    let unchanged = stack
        .adapters
        .auctions
        .get(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged.remaining_items, 2);

    // The same bid, resent once the store is back, is decided as if the first never happened.
    heal(&stack).await;
    let (status, accepted) = bid(&http(), &stack, Some(&token), auction.id.as_str(), body).await;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["bidId"], bid_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_faults_on_the_routes_give_documented_errors_and_leak_no_connection() {
    let stack = start().await;
    let auction = create_auction(&stack, "public", 1).await;
    let user = |i: usize| format!("viewer-{i}");

    // Every other write of a connect or a join is throttled: the SDK's retries carry the routes
    // through (the clients come one by one, so a retry is the next write and is not throttled).
    inject(
        &stack,
        "dynamodb",
        json!({"fault": "throttle", "operation": "TransactWriteItems", "ratio": 0.5, "count": 6}),
    )
    .await;
    let mut clients = Vec::new();
    for i in 0..10 {
        let mut client = Client::connect(&stack, Some(&token(&user(i), "public", &[]))).await;
        client.join_and_state(auction.id.as_str()).await;
        clients.push(client);
    }
    heal(&stack).await;

    // A join the store cannot take at all: an `Error` frame with a documented code, no member.
    let mut refused = Client::connect(&stack, Some(&token("refused", "public", &[]))).await;
    inject(
        &stack,
        "dynamodb",
        json!({"fault": "server-error", "operation": "TransactWriteItems"}),
    )
    .await;
    refused.join(auction.id.as_str()).await;
    let error = refused.next_frame().await;
    assert_eq!(error["type"], "Error", "{error}");
    assert_eq!(error["data"]["code"], "InternalError", "{error}");
    heal(&stack).await;
    // Closed while the store works: its `$disconnect` removes it (it is in no group, so no push
    // would ever find it gone).
    drop(refused);
    assert_eq!(
        stack
            .adapters
            .groups
            .viewer_count(&auction.id, tests::now())
            .await
            .unwrap(),
        10,
        "the refused join counted nobody"
    );

    // `$disconnect` whose every store call fails leaves rows behind, as API Gateway does not
    // retry it; the next push to the group finds the sockets gone (410) and removes them.
    inject(
        &stack,
        "dynamodb",
        json!({"fault": "server-error", "count": 1_000}),
    )
    .await;
    for client in clients.drain(..5) {
        drop(client);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    heal(&stack).await;
    eventually_within(
        "gone connections removed",
        Duration::from_secs(15),
        || async {
            let mut left = 0;
            for i in 0..5 {
                left += stack
                    .adapters
                    .connections
                    .connections_of_user("public", &user(i), tests::now())
                    .await
                    .unwrap()
                    .len();
            }
            left == 0
        },
    )
    .await;
    eventually_within(
        "the viewer count settled",
        Duration::from_secs(15),
        || async {
            stack
                .adapters
                .groups
                .viewer_count(&auction.id, tests::now())
                .await
                .unwrap()
                == 5
        },
    )
    .await;
}
