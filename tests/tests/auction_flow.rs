//! The whole auction flow end to end through `auction-local`: the ticker's prices and
//! viewer counts, bids over HTTP, domain events on the local EventBridge, and the notifier's
//! pushes, all over real sockets.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use auction_core::domain::{Connection, CreateAuctionRequest};
use futures::future::join_all;
use serde_json::{Value, json};
use tests::{Client, LocalConfig, Running, bid, create_auction, eventually, start_with, token};

fn flow_config() -> LocalConfig {
    LocalConfig {
        price_update_interval_seconds: 2,
        viewer_count_interval_seconds: 1,
        ..LocalConfig::default()
    }
}

/// Creates an auction of `tenant` from a create body, through the store.
async fn create_from(stack: &Running, tenant: &str, body: Value) -> auction_core::domain::Auction {
    let auction = serde_json::from_value::<CreateAuctionRequest>(body)
        .unwrap()
        .validate(tenant, "seller-1", tests::now())
        .unwrap();
    stack.adapters.auctions.create(&auction).await.unwrap();
    auction
}

fn price(frame: &Value) -> f64 {
    frame["data"]["currentPrice"].as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_see_the_price_fall_at_most_once_per_interval() {
    let stack = start_with(flow_config()).await;
    let auction = create_auction(&stack, "acme", 3).await;
    let mut viewer = Client::connect(&stack, Some(&token("viewer", "acme", &[]))).await;
    viewer.join_and_state(auction.id.as_str()).await;
    let joined = Instant::now();

    let mut updates = Vec::new();
    while updates.len() < 4 {
        let frame = viewer.next_of("PriceUpdated").await;
        if updates.is_empty() {
            assert!(
                joined.elapsed() <= Duration::from_secs(3),
                "the first PriceUpdated arrives within the interval + 1 s, after {:?}",
                joined.elapsed()
            );
        }
        updates.push(frame);
    }
    for frame in &updates {
        assert_eq!(frame["data"]["auctionId"], auction.id.as_str());
        assert_eq!(frame["data"]["currency"], "EUR");
        assert!(frame["data"]["dropsRemaining"].is_i64());
    }
    for pair in updates.windows(2) {
        assert!(
            price(&pair[1]) < price(&pair[0]),
            "each price is lower: {pair:?}"
        );
        let gap = pair[1]["sentAt"].as_i64().unwrap() - pair[0]["sentAt"].as_i64().unwrap();
        // The interval is measured tick to tick (docs/protocol.md section 4): never closer than
        // the 2 s interval less half of the 1 s tick.
        assert!(gap >= 1_500, "never two within the 2 s interval: {gap} ms");
        assert!(
            pair[1]["data"]["dropsRemaining"].as_i64() < pair[0]["data"]["dropsRemaining"].as_i64()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_price_is_pushed_before_the_auction_ends_floor_reached() {
    // A 5 s throttle, but the price falls 3 → 1 in two seconds and the auction ends a second later:
    // the last change is never swallowed.
    let stack = start_with(LocalConfig {
        price_update_interval_seconds: 5,
        ..LocalConfig::default()
    })
    .await;
    let auction = create_from(
        &stack,
        "acme",
        json!({"title": "Short", "currency": "EUR", "startPrice": 3, "floorPrice": 1,
               "priceDrop": 1, "dropIntervalSeconds": 1, "totalItems": 2}),
    )
    .await;
    let mut viewer = Client::connect(&stack, Some(&token("viewer", "acme", &[]))).await;
    viewer.join_and_state(auction.id.as_str()).await;

    let mut last_price = None;
    let ended = loop {
        let frame = viewer.next_any().await;
        match frame["type"].as_str() {
            Some("PriceUpdated") => last_price = Some(frame),
            Some("AuctionEnded") => break frame,
            _ => {}
        }
    };
    assert_eq!(ended["data"]["reason"], "FloorReached");
    let last_price = last_price.expect("a PriceUpdated came before the end");
    assert_eq!(
        price(&last_price),
        1.0,
        "the floor price was pushed: {last_price}"
    );
    assert_eq!(last_price["data"]["dropsRemaining"], 0);

    let stored = stack
        .adapters
        .auctions
        .get(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.ending.map(|e| e.reason.as_str()),
        Some("FloorReached"),
        "the ticker recorded the end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_reaches_every_buyer_tab_and_the_rest_of_the_group() {
    let stack = start_with(flow_config()).await;
    let http = reqwest::Client::new();
    let auction = create_auction(&stack, "acme", 2).await;
    let other = create_auction(&stack, "acme", 2).await;
    let id = auction.id.as_str();
    let buyer_token = token("buyer", "acme", &[]);

    let mut tab1 = Client::connect(&stack, Some(&buyer_token)).await;
    let mut tab2 = Client::connect(&stack, Some(&buyer_token)).await;
    let mut viewer = Client::connect(&stack, Some(&token("viewer", "acme", &[]))).await;
    for client in [&mut tab1, &mut tab2, &mut viewer] {
        client.join_and_state(id).await;
    }

    // The buyer wins the first item.
    let (status, won) = bid(
        &http,
        &stack,
        Some(&buyer_token),
        id,
        json!({"bidPrice": 100}),
    )
    .await;
    assert_eq!(status, 201, "{won}");
    assert_eq!(won["status"], "Accepted");
    assert!(won["reservationId"].is_string() && won["expiresAt"].is_string());
    for tab in [&mut tab1, &mut tab2] {
        let frame = tab.next_frame().await;
        assert_eq!(frame["type"], "BidAccepted", "{frame}");
        assert_eq!(frame["data"]["bidId"], won["bidId"]);
        assert_eq!(frame["data"]["reservationId"], won["reservationId"]);
        assert_eq!(frame["data"]["winningPrice"], won["winningPrice"]);
        assert_eq!(frame["data"]["expiresAt"], won["expiresAt"]);
    }
    let sold = viewer.next_frame().await;
    assert_eq!(sold["type"], "ItemSold", "{sold}");
    assert_eq!(
        sold["data"],
        json!({"auctionId": id, "remainingItems": 1, "soldItems": 1, "releasedItems": 0})
    );

    // A bid below the price loses: the HTTP answer says so, and no tab is pushed anything.
    let (status, lost) = bid(
        &http,
        &stack,
        Some(&buyer_token),
        other.id.as_str(),
        json!({"bidPrice": 1}),
    )
    .await;
    assert_eq!(status, 409, "{lost}");
    assert_eq!(lost["reason"], "PriceTooLow");
    assert_eq!(lost["bidId"].as_str().map(str::len), Some(36));
    assert!(lost["currentPrice"].as_f64().unwrap() > 1.0);
    for tab in [&mut tab1, &mut tab2] {
        let frames = tab.drain_events(Duration::from_millis(300)).await;
        assert!(
            frames.iter().all(|f| f["type"] != "BidRejected"),
            "{frames:?}"
        );
    }

    // Someone without a socket wins the last item: everyone sees it sold; the item is held until
    // its buyer pays, so the auction is not over yet.
    let other_buyer = token("other-buyer", "acme", &[]);
    let (status, last) = bid(
        &http,
        &stack,
        Some(&other_buyer),
        id,
        json!({"bidPrice": 100}),
    )
    .await;
    assert_eq!(status, 201, "{last}");
    for client in [&mut tab1, &mut tab2, &mut viewer] {
        let frames = client.drain_events(Duration::from_millis(1500)).await;
        let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
        assert_eq!(kinds, ["ItemSold"], "{frames:?}");
        assert_eq!(
            frames[0]["data"],
            json!({"auctionId": id, "remainingItems": 0, "soldItems": 2, "releasedItems": 0})
        );
    }
    // A bid now finds every item held.
    let (status, held) = bid(
        &http,
        &stack,
        Some(&buyer_token),
        id,
        json!({"bidPrice": 100}),
    )
    .await;
    assert_eq!(
        (status, held["reason"].as_str()),
        (409, Some("AllReserved"))
    );
    // Both buyers pay: the last confirmation sells the auction out, and everyone sees the end.
    for (who, body) in [(&buyer_token, &won), (&other_buyer, &last)] {
        let reservation = body["reservationId"].as_str().unwrap();
        let (status, confirmed) = tests::confirm(&http, &stack, who, reservation).await;
        assert_eq!(
            (status, confirmed["state"].as_str()),
            (200, Some("Confirmed"))
        );
    }
    // The buyer's tabs hear that its hold is paid (every tab stops counting it down).
    for (client, buyer_tab) in [(&mut tab1, true), (&mut tab2, true), (&mut viewer, false)] {
        let mut frames = client.drain_events(Duration::from_millis(1500)).await;
        frames.sort_by_key(|f| f["type"].as_str().unwrap_or_default().to_owned());
        let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
        assert_eq!(
            kinds,
            if buyer_tab {
                vec!["AuctionEnded", "ReservationConfirmed"]
            } else {
                vec!["AuctionEnded"]
            },
            "{frames:?}"
        );
        assert_eq!(
            frames[0]["data"],
            json!({"auctionId": id, "reason": "SoldOut"})
        );
        if buyer_tab {
            assert_eq!(frames[1]["data"]["reservationId"], won["reservationId"]);
        }
    }
    assert!(stack.bus.dead_letters().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bid_storm_sells_exactly_the_stock_and_tells_exactly_the_winners() {
    let stack = start_with(flow_config()).await;
    let http = reqwest::Client::new();
    // A schedule of hours: the items stay held (unpaid) for the whole test, and the schedule's
    // end (which would record SoldOut with nothing available) does not come into it.
    let auction = serde_json::from_value::<CreateAuctionRequest>(json!({
        "title": "Storm", "currency": "EUR", "startPrice": 100, "floorPrice": 20,
        "priceDrop": 1, "dropIntervalSeconds": 600, "totalItems": 10
    }))
    .unwrap()
    .validate("acme", "seller-1", tests::now())
    .unwrap();
    stack.adapters.auctions.create(&auction).await.unwrap();
    let id = auction.id.as_str().to_owned();

    let users: Vec<String> = (0..50).map(|i| format!("user-{i}")).collect();
    let mut sockets = Vec::new();
    for user in &users {
        let mut client = Client::connect(&stack, Some(&token(user, "acme", &[]))).await;
        client.join_and_state(&id).await;
        sockets.push(client);
    }
    let mut watcher = Client::connect(&stack, Some(&token("watcher", "acme", &[]))).await;
    watcher.join_and_state(&id).await;

    let tokens: Vec<String> = users.iter().map(|u| token(u, "acme", &[])).collect();
    let bids = (0..300).map(|i| {
        let (http, stack, id) = (&http, &stack, &id);
        let token = tokens[i % 50].clone();
        async move { bid(http, stack, Some(&token), id, json!({"bidPrice": 100})).await }
    });
    let results = join_all(bids).await;
    let accepted = results.iter().filter(|(s, _)| *s == 201).count();
    let rejected = results.iter().filter(|(s, _)| *s == 409).count();
    assert_eq!((accepted, rejected), (10, 290), "exactly the stock is sold");
    let stored = stack
        .adapters
        .auctions
        .get(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.remaining_items, 0);

    // Every socket's events: exactly ten BidAccepted across the bidders, matching the 201s, and
    // nothing for the 290 rejections (their HTTP answers carry them).
    let mut accepted_frames = 0;
    let mut rejected_frames = 0;
    for client in &mut sockets {
        for frame in client.drain_events(Duration::from_millis(1500)).await {
            match frame["type"].as_str() {
                Some("BidAccepted") => accepted_frames += 1,
                Some("BidRejected") => rejected_frames += 1,
                _ => {}
            }
        }
    }
    assert_eq!(accepted_frames, 10);
    assert_eq!(rejected_frames, 0);
    let watched = watcher.drain_events(Duration::from_millis(500)).await;
    let sold: Vec<&Value> = watched.iter().filter(|f| f["type"] == "ItemSold").collect();
    assert_eq!(sold.len(), 10, "one ItemSold per sale: {watched:?}");
    assert!(sold.iter().any(|f| f["data"]["remainingItems"] == 0));
    assert!(sold.iter().any(|f| f["data"]["soldItems"] == 10));
    // Every item is held by its winner, not yet paid for: the auction goes on (AllReserved).
    assert!(
        watched.iter().all(|f| f["type"] != "AuctionEnded"),
        "{watched:?}"
    );
    let reasons: HashSet<&str> = results
        .iter()
        .filter(|(s, _)| *s == 409)
        .filter_map(|(_, body)| body["reason"].as_str())
        .collect();
    assert_eq!(reasons, HashSet::from(["AllReserved"]));
    assert!(stack.bus.dead_letters().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_never_broadcast_and_the_count_arrives_coalesced() {
    let stack = start_with(LocalConfig {
        viewer_count_interval_seconds: 2,
        ..flow_config()
    })
    .await;
    let auction = create_auction(&stack, "public", 3).await;
    let id = auction.id.as_str();
    let mut observer = Client::connect(&stack, None).await;
    observer.join_and_state(id).await;
    let started = Instant::now();

    let mut viewers = Vec::new();
    for _ in 0..499 {
        let mut viewer = Client::connect(&stack, None).await;
        viewer.join(id).await;
        viewers.push(viewer);
    }
    for viewer in &mut viewers {
        viewer.next_of("AuctionState").await;
    }
    // 500 members now; counts come at most every 2 s, whatever the join rate.
    let mut counts = Vec::new();
    loop {
        let frame = observer.next_of("ViewerCountUpdated").await;
        counts.push(frame.clone());
        if frame["data"]["activeViewers"] == 500 {
            break;
        }
    }
    let elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap();
    assert!(
        i64::try_from(counts.len()).unwrap() <= elapsed_ms / 2_000 + 1,
        "coalesced: {} counts in {elapsed_ms} ms",
        counts.len()
    );

    // One more join: nothing reaches the group until the next coalesced count, which says 501.
    let mut late = Client::connect(&stack, None).await;
    late.join_and_state(id).await;
    let next = loop {
        let frame = observer.next_any().await;
        assert!(
            frame["type"] == "PriceUpdated" || frame["type"] == "ViewerCountUpdated",
            "a join broadcasts nothing: {frame}"
        );
        if frame["type"] == "ViewerCountUpdated" {
            break frame;
        }
    };
    assert_eq!(next["data"]["activeViewers"], 501);
    let gap = next["sentAt"].as_i64().unwrap() - counts.last().unwrap()["sentAt"].as_i64().unwrap();
    assert!(
        gap >= 1_500,
        "never two counts within the interval, measured tick to tick: {gap} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_disconnect_was_lost_is_removed_by_the_next_broadcast() {
    let stack = start_with(flow_config()).await;
    let auction = create_auction(&stack, "acme", 3).await;
    let mut observer = Client::connect(&stack, Some(&token("observer", "acme", &[]))).await;
    observer.join_and_state(auction.id.as_str()).await;

    // A viewer whose socket died without a close frame and whose $disconnect never ran: its rows
    // are still in the store, but the gateway no longer knows it (API Gateway answers 410).
    let ghost = Connection::new(
        "R2hvc3RDb25uPQ=",
        Some("ghost".into()),
        "acme",
        vec![],
        tests::now(),
    );
    stack.adapters.connections.put(&ghost, 10).await.unwrap();
    stack
        .adapters
        .groups
        .join(&ghost, &auction.id, tests::now())
        .await
        .unwrap();
    // And one killed for real: the TCP stream dropped without a close frame.
    let mut killed = Client::connect(&stack, Some(&token("killed", "acme", &[]))).await;
    killed.join_and_state(auction.id.as_str()).await;
    drop(killed);

    let groups = stack.adapters.groups.clone();
    let auction_id = auction.id.clone();
    eventually("the next broadcasts remove the dead viewers", || {
        let groups = groups.clone();
        let auction_id = auction_id.clone();
        async move {
            groups
                .viewer_count(&auction_id, tests::now())
                .await
                .unwrap()
                == 1
        }
    })
    .await;
    // The removal leaves the groups first, then deletes the row: wait for the row too.
    let connections = stack.adapters.connections.clone();
    eventually("the 410 removed the stale connection", || {
        let connections = connections.clone();
        async move {
            connections
                .get("R2hvc3RDb25uPQ=", tests::now())
                .await
                .unwrap()
                .is_none()
        }
    })
    .await;
    // Counts sent before the removal may be queued; the corrected one follows them.
    loop {
        let count = observer.next_of("ViewerCountUpdated").await;
        if count["data"]["activeViewers"] == 1 {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_over_the_bid_rate_gets_429_with_retry_after_and_nothing_changes() {
    let stack = start_with(LocalConfig {
        bid_rate: auction_core::rate::RateLimit {
            max_calls: 3,
            window_seconds: 60,
        },
        ..flow_config()
    })
    .await;
    let http = reqwest::Client::new();
    let auction = create_auction(&stack, "acme", 10).await;
    let bidder = token("eager", "acme", &[]);
    let url = format!(
        "{}/api/auctions/{}/bids",
        stack.http_url(),
        auction.id.as_str()
    );
    for _ in 0..3 {
        let response = http
            .post(&url)
            .bearer_auth(&bidder)
            .json(&json!({"bidPrice": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 409);
    }
    let response = http
        .post(&url)
        .bearer_auth(&bidder)
        .json(&json!({"bidPrice": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "RateLimited");
    let stored = stack
        .adapters
        .auctions
        .get(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.remaining_items, 10, "a refused bid takes nothing");

    // Another user is not affected.
    let (status, _) = bid(
        &http,
        &stack,
        Some(&token("calm", "acme", &[])),
        auction.id.as_str(),
        json!({"bidPrice": 100}),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_bus_answers_put_events_like_eventbridge() {
    let stack = start_with(flow_config()).await;
    let client = aws_sdk_eventbridge::Client::new(&local::local_sdk_config(&stack.http_url()));
    let entry = |bus: &str| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(infra::bus::EVENT_SOURCE)
            .detail_type("AuctionCreated")
            .detail(r#"{"tenantId":"t","auctionId":"a","sellerId":"s","title":"x","startsAtMs":1}"#)
            .build()
    };
    let output = client
        .put_events()
        .entries(entry(local::EVENT_BUS))
        .entries(entry("no-such-bus"))
        .send()
        .await
        .unwrap();
    assert_eq!(output.failed_entry_count(), 1);
    assert!(output.entries()[0].event_id().is_some());
    assert_eq!(
        output.entries()[1].error_code(),
        Some("ResourceNotFoundException")
    );

    let eleven = (0..11).map(|_| entry(local::EVENT_BUS)).collect::<Vec<_>>();
    let error = client
        .put_events()
        .set_entries(Some(eleven))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_eventbridge::error::ProvideErrorMetadata::code(&error),
        Some("ValidationException")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_bid_whose_events_were_not_published_still_reaches_everyone() {
    let stack = start_with(flow_config()).await;
    let auction = create_auction(&stack, "acme", 3).await;
    let id = auction.id.as_str();
    let buyer_token = token("buyer", "acme", &[]);
    let mut buyer = Client::connect(&stack, Some(&buyer_token)).await;
    let mut viewer = Client::connect(&stack, Some(&token("viewer", "acme", &[]))).await;
    buyer.join_and_state(id).await;
    viewer.join_and_state(id).await;

    // An HTTP API whose bus is unreachable: the bid commits, its PutEvents fails for real.
    let unreachable_bus = auction_app::compose::Adapters {
        publisher: std::sync::Arc::new(auction_aws::eventbridge::EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&local::local_sdk_config("http://127.0.0.1:9")),
            local::EVENT_BUS,
        )),
        ..stack.adapters.clone()
    };
    let deps = unreachable_bus.http(
        auction_aws::jwt::TokenVerifier::new(auction_aws::jwt::AuthConfig::local_development()),
        auction_core::rate::RateLimit::BID_DEFAULT,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broken = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, auction_app::http::router(deps))
            .await
            .unwrap();
    });
    let response = reqwest::Client::new()
        .post(format!("{broken}/api/auctions/{id}/bids"))
        .bearer_auth(&buyer_token)
        .json(&json!({"bidPrice": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let won: Value = response.json().await.unwrap();

    // The ticker's outbox sweep publishes it from the stored bid a few seconds later.
    let wait = Duration::from_secs(12);
    let accepted = loop {
        let frame = buyer
            .next_any_within(wait)
            .await
            .expect("BidAccepted arrives");
        if frame["type"] == "BidAccepted" {
            break frame;
        }
    };
    assert_eq!(accepted["data"]["bidId"], won["bidId"]);
    assert_eq!(accepted["data"]["reservationId"], won["reservationId"]);
    let sold = loop {
        let frame = viewer
            .next_any_within(wait)
            .await
            .expect("ItemSold arrives");
        if frame["type"] == "ItemSold" {
            break frame;
        }
    };
    assert_eq!(sold["data"]["remainingItems"], 2);
    let bid_id = auction_core::domain::BidId::parse(won["bidId"].as_str().unwrap()).unwrap();
    let pending = stack
        .adapters
        .outbox
        .pending(tests::now().plus_seconds(60), 10)
        .await
        .unwrap();
    assert!(
        pending.iter().all(|p| p.bid.bid_id != bid_id),
        "the outbox entry is cleared once published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_group_is_pushed_by_fan_out_workers_each_viewer_once_and_the_buyer_skipped() {
    // Four viewers over four membership shards make a group the workers post (two a part).
    let stack = start_with(LocalConfig {
        price_update_interval_seconds: 1,
        membership_shards: 4,
        fanout_pool: auction_app::fanout::workers::WorkerPool {
            group_viewers: 2,
            posts_per_second: 1_000,
            workers: 2,
        },
        ..flow_config()
    })
    .await;
    let auction = create_auction(&stack, "acme", 3).await;
    let id = auction.id.as_str();
    let buyer_token = token("buyer", "acme", &[]);
    let mut buyer = Client::connect(&stack, Some(&buyer_token)).await;
    buyer.join_and_state(id).await;
    let mut viewers = Vec::new();
    for i in 0..3 {
        let mut viewer = Client::connect(&stack, Some(&token(&format!("v{i}"), "acme", &[]))).await;
        viewer.join_and_state(id).await;
        viewers.push(viewer);
    }
    // Once the ticker has read the count, its pushes go through the workers: every viewer
    // still gets each PriceUpdated once (no two frames of one push).
    for client in viewers.iter_mut().chain(std::iter::once(&mut buyer)) {
        let first = client.next_of("PriceUpdated").await;
        let second = client.next_of("PriceUpdated").await;
        assert_ne!(first["sentAt"], second["sentAt"], "one frame per push");
    }
    let http = reqwest::Client::new();
    let parts = |metrics: &str, frame: &str| -> f64 {
        tests::sample(metrics, &format!("FanOutParts{{Frame=\"{frame}\"}}")).unwrap_or(0.0)
    };
    let metrics = || tests::metrics_text(&http, &stack);
    // Four members at two a part over four shards: two parts per push.
    assert!(
        parts(&metrics().await, "PriceUpdated") >= 2.0,
        "{}",
        metrics().await
    );

    // A sale's ItemSold goes through the workers too, skipping every connection of the buyer.
    let (status, won) = bid(
        &reqwest::Client::new(),
        &stack,
        Some(&buyer_token),
        id,
        json!({"bidPrice": 100}),
    )
    .await;
    assert_eq!(status, 201, "{won}");
    for viewer in &mut viewers {
        let sold = viewer.next_of("ItemSold").await;
        assert_eq!(
            sold["data"],
            json!({"auctionId": id, "remainingItems": 2, "soldItems": 1, "releasedItems": 0})
        );
    }
    let frames = buyer.drain_events(Duration::from_millis(1500)).await;
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["BidAccepted"],
        "the buyer gets no ItemSold: {frames:?}"
    );
    for viewer in &mut viewers {
        let more = viewer.drain_events(Duration::from_millis(500)).await;
        assert!(
            more.iter().all(|f| f["type"] != "ItemSold"),
            "ItemSold once: {more:?}"
        );
    }
    assert!(
        parts(&metrics().await, "ItemSold") >= 2.0,
        "the notifier split ItemSold"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_sale_whose_caller_died_is_announced_by_the_sweep_and_its_payment_ends_it() {
    use auction_core::domain::{AcceptedBid, BidId, BidRequest, EndReason, Reservation};
    let stack = start_with(flow_config()).await;
    let auction = create_auction(&stack, "acme", 1).await;
    let id = auction.id.as_str();
    let mut viewer = Client::connect(&stack, Some(&token("viewer", "acme", &[]))).await;
    viewer.join_and_state(id).await;

    // The HTTP API took the last item and died: no announcement. The outbox sweep announces
    // the sale; the item is held, so the auction goes on until its buyer pays.
    let at = tests::now();
    let request = BidRequest {
        auction_id: auction.id.clone(),
        bid_id: BidId::generate(),
        user_id: "buyer".into(),
        tenant_id: "acme".into(),
        bid_price: auction.current_price(at),
        fresh_id: false,
    };
    let accepted = AcceptedBid {
        bid_id: request.bid_id.clone(),
        auction_id: auction.id.clone(),
        user_id: "buyer".into(),
        winning_price: auction.current_price(at),
        currency: auction.currency,
        reservation: Reservation::new(at, auction.reservation_ttl_seconds),
        accepted_at: at,
    };
    stack
        .adapters
        .bids
        .commit_acceptance(&request, &auction, &accepted)
        .await
        .unwrap();

    let sold = loop {
        let frame = viewer
            .next_any_within(Duration::from_secs(12))
            .await
            .expect("ItemSold arrives");
        assert_ne!(frame["type"], "AuctionEnded", "a held item does not end it");
        if frame["type"] == "ItemSold" {
            break frame;
        }
    };
    assert_eq!(sold["data"]["remainingItems"], 0);
    let buyer = auction_core::identity::Identity {
        user_id: Some("buyer".into()),
        tenant_id: "acme".into(),
        roles: Vec::new(),
    };
    stack
        .adapters
        .http(
            auction_aws::jwt::TokenVerifier::new(auction_aws::jwt::AuthConfig::local_development()),
            auction_core::rate::RateLimit {
                max_calls: 10,
                window_seconds: 1,
            },
        )
        .checkout
        .confirm(&buyer, &accepted.reservation.reservation_id)
        .await
        .unwrap();
    let ended = loop {
        let frame = viewer
            .next_any_within(Duration::from_secs(5))
            .await
            .expect("AuctionEnded arrives");
        if frame["type"] == "AuctionEnded" {
            break frame;
        }
    };
    assert_eq!(ended["data"]["reason"], "SoldOut");
    let row = stack
        .adapters
        .auctions
        .get_latest(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.ending.map(|e| e.reason), Some(EndReason::SoldOut));
    eventually("the ended auction leaves the live list", || async {
        let shard = stack.adapters.auctions.live_shards();
        let mut listed = false;
        for s in 0..shard {
            listed |= stack
                .adapters
                .auctions
                .live_in_shard(s)
                .await
                .unwrap()
                .iter()
                .any(|a| a.id == auction.id);
        }
        !listed
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_group_is_confirmed_less_often_with_its_count_riding_along() {
    // Three viewers make a large group here; the price interval stays 1 s for small groups.
    let stack = start_with(LocalConfig {
        price_update_interval_seconds: 1,
        viewer_count_interval_seconds: 1,
        large_group_viewers: 3,
        large_group_push_interval_seconds: 3,
        ..LocalConfig::default()
    })
    .await;
    let auction = create_auction(&stack, "public", 3).await;
    let id = auction.id.as_str();
    let mut first = Client::connect(&stack, None).await;
    let state = first.join_and_state(id).await;
    assert_eq!(
        state["pushIntervalSeconds"], 1,
        "one viewer: the small cadence"
    );
    // A small group: every second, with the count in frames of its own.
    let small = first.next_of("PriceUpdated").await;
    assert_eq!(small["data"]["pushIntervalSeconds"], 1);
    assert!(small["data"].get("activeViewers").is_none());

    let mut others = Vec::new();
    for _ in 0..2 {
        let mut viewer = Client::connect(&stack, None).await;
        let state = viewer.join_and_state(id).await;
        others.push((viewer, state));
    }
    // The third joiner makes the group large, and its snapshot announces the large cadence.
    assert_eq!(others[1].1["pushIntervalSeconds"], 3);

    // Once the ticker has read 3 viewers, pushes come every 3 s, say so, and carry the count;
    // no ViewerCountUpdated comes any more.
    let large = loop {
        let frame = first.next_of("PriceUpdated").await;
        if frame["data"]["pushIntervalSeconds"] == 3 {
            break frame;
        }
    };
    assert_eq!(large["data"]["activeViewers"], 3);
    let mut previous = large["sentAt"].as_i64().unwrap();
    for _ in 0..2 {
        let frame = loop {
            let frame = first.next_any().await;
            assert_ne!(
                frame["type"], "ViewerCountUpdated",
                "a large group's count rides along"
            );
            if frame["type"] == "PriceUpdated" {
                break frame;
            }
        };
        assert_eq!(frame["data"]["pushIntervalSeconds"], 3);
        assert_eq!(frame["data"]["activeViewers"], 3);
        let sent = frame["sentAt"].as_i64().unwrap();
        assert!(
            sent - previous >= 2_500,
            "a large group is pushed every 3 s (measured tick to tick): {} ms",
            sent - previous
        );
        previous = sent;
    }

    // Below four fifths of the threshold the group is small again: the next push says so.
    others.clear();
    let small_again = loop {
        let frame = first.next_of("PriceUpdated").await;
        if frame["data"]["pushIntervalSeconds"] == 1 {
            break frame;
        }
    };
    assert!(small_again["data"].get("activeViewers").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_live_index_shard_is_ticked_by_a_run_of_its_own() {
    let stack = start_with(LocalConfig {
        price_update_interval_seconds: 1,
        live_index_shards: 4,
        ..LocalConfig::default()
    })
    .await;
    // Auctions until each of the 4 shards has one, with a viewer on each.
    let mut by_shard = std::collections::BTreeMap::new();
    while by_shard.len() < 4 {
        let auction = create_auction(&stack, "acme", 1).await;
        by_shard
            .entry(auction_aws::dynamo::shard_of(auction.id.as_str(), 4))
            .or_insert(auction);
    }
    let mut viewers = Vec::new();
    for auction in by_shard.values() {
        let mut viewer = Client::connect(&stack, Some(&token("viewer", "acme", &[]))).await;
        viewer.join_and_state(auction.id.as_str()).await;
        viewers.push(viewer);
    }
    for (viewer, auction) in viewers.iter_mut().zip(by_shard.values()) {
        let frame = viewer.next_of("PriceUpdated").await;
        assert_eq!(frame["data"]["auctionId"], auction.id.as_str());
    }
    // Each shard's lease is held, each by a run of its own: a probe gets none of them.
    for shard in 0..4 {
        let taken = stack
            .adapters
            .lease
            .acquire(shard, "probe", tests::now(), 1)
            .await
            .unwrap();
        assert_eq!(taken, None, "shard {shard} is leased by its run");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_lambda_invoke_api_starts_shard_runs_like_lambda() {
    let stack = start_with(LocalConfig {
        live_index_shards: 4,
        ..LocalConfig::default()
    })
    .await;
    let url = |name: &str| {
        format!(
            "{}/2015-03-31/functions/{name}/invocations",
            stack.http_url()
        )
    };
    let http = reqwest::Client::new();
    // Unsigned: refused as Lambda refuses it.
    let unsigned = http
        .post(url("price-ticker"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    let signed = |name: &str, body: &'static str| {
        http.post(url(name))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=local/20261206/us-east-1/lambda/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            )
            .header("x-amz-date", "20261206T000000Z")
            .body(body)
    };
    let unknown = signed("nope", "{}").send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["x-amzn-errortype"],
        "ResourceNotFoundException"
    );
    let garbled = signed("price-ticker", "{not json").send().await.unwrap();
    assert_eq!(garbled.status(), 400);
    assert_eq!(
        garbled.headers()["x-amzn-errortype"],
        "InvalidRequestContentException"
    );
    // A shard outside the live index is the function's error, as Lambda reports one.
    let bad = signed("price-ticker", r#"{"shard": 9}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 200);
    assert_eq!(bad.headers()["x-amz-function-error"], "Unhandled");
    let body: Value = bad.json().await.unwrap();
    assert!(
        body["errorMessage"].as_str().unwrap().contains("0..4"),
        "{body}"
    );
    // The dispatcher's own client: an asynchronous invoke is queued (202) and runs the shard.
    let invoker = auction_aws::invoke::AsyncInvoker::new(
        &local::local_sdk_config(&stack.http_url()),
        Some(&stack.http_url()),
        "price-ticker",
    )
    .unwrap();
    invoker
        .invoke_async(&json!({"shard": 2}))
        .await
        .expect("queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_hold_is_released_by_the_sweep_and_its_item_announced_back() {
    let stack = start_with(flow_config()).await;
    let auction = create_from(
        &stack,
        "acme",
        json!({"title": "Tulips", "currency": "EUR", "startPrice": 100, "floorPrice": 20,
               "priceDrop": 1, "dropIntervalSeconds": 1, "totalItems": 2,
               "reservationTtlSeconds": 1}),
    )
    .await;
    let id = auction.id.as_str();
    let buyer_token = token("buyer", "acme", &[]);
    let mut buyer = Client::connect(&stack, Some(&buyer_token)).await;
    let mut viewer = Client::connect(&stack, Some(&token("viewer", "acme", &[]))).await;
    buyer.join_and_state(id).await;
    viewer.join_and_state(id).await;

    let (status, won) = bid(
        &reqwest::Client::new(),
        &stack,
        Some(&buyer_token),
        id,
        json!({"bidPrice": 100}),
    )
    .await;
    assert_eq!(status, 201, "{won}");
    assert_eq!(
        viewer.next_of("ItemSold").await["data"]["remainingItems"],
        1
    );

    // Nobody pays: a second later the ticker's sweep releases the hold. The buyer hears that its
    // reservation lapsed, and the room that the item is back.
    let expired = buyer.next_of("ReservationExpired").await;
    assert_eq!(
        expired["data"],
        json!({"reservationId": won["reservationId"], "auctionId": id})
    );
    let released = viewer.next_of("ItemReleased").await;
    assert_eq!(
        released["data"],
        json!({"auctionId": id, "remainingItems": 2, "soldItems": 1, "releasedItems": 1})
    );
    let row = stack
        .adapters
        .auctions
        .get_latest(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.remaining_items, 2);
    let hold = stack
        .adapters
        .reservations
        .get(won["reservationId"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hold.state, auction_core::domain::hold::HoldState::Released);
}
