//! The DynamoDB adapters against a real DynamoDB-compatible engine (`dynoxide`, embedded, in
//! memory, one per test with its own tables), reached through `aws-sdk-dynamodb` over HTTP. Each
//! port method is one atomic operation; these tests hold each to its contract. The use cases over
//! them are tested end to end in the `tests` crate.

#![allow(clippy::unwrap_used)] // a test's helpers may panic: that is how they fail the test

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use auction_aws::dynamo::{
    DynamoAuctions, DynamoBids, DynamoConnections, DynamoGroups, DynamoRateLimits,
    DynamoReservations,
};
use auction_core::domain::hold::{HoldState, Release};
use auction_core::domain::{
    AcceptedBid, Amount, Auction, AuctionId, AuctionStatus, BidId, BidOutcome, BidRequest,
    Connection, CreateAuctionRequest, EndReason, Ending, EpochMillis, RejectReason, RejectedBid,
    Reservation,
};
use auction_core::ports::reservations::{ConfirmOutcome, ReleaseOutcome, ReservationStore};
use auction_core::ports::{
    Admission, AuctionStore, BidStore, CancelOutcome, Commit, ConnectionStore, CreateAuctionError,
    GroupStore, JoinError, JoinOutcome, LeaveOutcome, Outbox, RateLimiter, RateSubject, Recorded,
    StoreError, TickerLease,
};
use auction_core::rate::RateLimit;
use futures::StreamExt;
use infra::embedded::{EmbeddedDynamo, local_client};
use infra::tables::{AUCTIONS, CONNECTIONS};
use serde_json::json;

struct Stack {
    _engine: EmbeddedDynamo,
    client: aws_sdk_dynamodb::Client,
    auctions: Arc<DynamoAuctions>,
    bids: Arc<DynamoBids>,
    connections: Arc<DynamoConnections>,
    groups: Arc<DynamoGroups>,
    rate_limits: Arc<DynamoRateLimits>,
    reservations: Arc<DynamoReservations>,
}

fn now() -> EpochMillis {
    EpochMillis::from_system_time(std::time::SystemTime::now())
}

async fn stack_with_shards(shards: u32) -> Stack {
    let engine = EmbeddedDynamo::in_memory()
        .await
        .expect("embedded engine starts");
    let client = engine.client();
    CONNECTIONS
        .create(&client, "connections")
        .await
        .expect("connections table");
    AUCTIONS
        .create(&client, "auctions")
        .await
        .expect("auctions table");
    let groups = DynamoGroups::new(client.clone(), "connections", shards);
    Stack {
        auctions: Arc::new(DynamoAuctions::new(client.clone(), "auctions")),
        bids: Arc::new(DynamoBids::new(client.clone(), "auctions")),
        connections: Arc::new(DynamoConnections::new(
            client.clone(),
            "connections",
            groups.clone(),
        )),
        groups: Arc::new(groups),
        rate_limits: Arc::new(DynamoRateLimits::new(client.clone(), "connections")),
        reservations: Arc::new(DynamoReservations::new(client.clone(), "auctions")),
        client,
        _engine: engine,
    }
}

async fn stack() -> Stack {
    stack_with_shards(1).await
}

fn new_auction(tenant: &str, items: u32, now: EpochMillis) -> Auction {
    serde_json::from_value::<CreateAuctionRequest>(json!({
        "title": "Tulip bulbs", "currency": "EUR", "startPrice": 100, "floorPrice": 20,
        "priceDrop": 1, "dropIntervalSeconds": 1, "totalItems": items
    }))
    .unwrap()
    .validate(tenant, "seller-1", now)
    .unwrap()
}

fn bid(auction: &Auction, user: &str, price_minor: i64) -> BidRequest {
    BidRequest {
        auction_id: auction.id.clone(),
        bid_id: BidId::generate(),
        user_id: user.to_owned(),
        tenant_id: auction.tenant_id.clone(),
        bid_price: Amount(price_minor),
        fresh_id: false,
    }
}

fn acceptance(auction: &Auction, bid: &BidRequest, now: EpochMillis) -> AcceptedBid {
    AcceptedBid {
        bid_id: bid.bid_id.clone(),
        auction_id: auction.id.clone(),
        user_id: bid.user_id.clone(),
        winning_price: auction.current_price(now),
        currency: auction.currency,
        reservation: Reservation::new(now, auction.reservation_ttl_seconds),
        accepted_at: now,
    }
}

#[tokio::test]
async fn a_sale_takes_one_item_once_and_says_why_a_write_was_refused() {
    let stack = stack().await;
    let now = now();
    let auction = new_auction("public", 1, now);
    stack.auctions.create(&auction).await.unwrap();
    let first = bid(&auction, "u1", 10_000);
    let accepted = acceptance(&auction, &first, now);
    assert_eq!(
        stack
            .bids
            .commit_acceptance(&first, &auction, &accepted)
            .await
            .unwrap(),
        Commit::Committed
    );
    let after = stack
        .auctions
        .get_latest(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.remaining_items, 0);

    // The same id again: the record comes back, nothing is taken.
    match stack
        .bids
        .commit_acceptance(&first, &auction, &accepted)
        .await
        .unwrap()
    {
        Commit::BidExists(Some(stored)) => {
            assert_eq!(stored.fingerprint, first.fingerprint());
            assert_eq!(stored.outcome, BidOutcome::Accepted(accepted.clone()));
        }
        other => panic!("expected the stored bid, got {other:?}"),
    }
    assert_eq!(
        stack
            .bids
            .find(&first.bid_id)
            .await
            .unwrap()
            .map(|b| b.outcome),
        Some(BidOutcome::Accepted(accepted))
    );

    // Another bid on the emptied auction: refused by the auction, which comes back as it is.
    let second = bid(&auction, "u2", 10_000);
    match stack
        .bids
        .commit_acceptance(&second, &auction, &acceptance(&auction, &second, now))
        .await
        .unwrap()
    {
        Commit::AuctionRefused(Some(refusing)) => assert_eq!(refusing.remaining_items, 0),
        other => panic!("expected the refusing auction, got {other:?}"),
    }
    assert_eq!(stack.bids.find(&second.bid_id).await.unwrap(), None);

    // Outside the active window the auction refuses too (the ticker need not record the end).
    let later = new_auction("public", 3, now);
    stack.auctions.create(&later).await.unwrap();
    let after_end = now.plus_seconds(81);
    let third = bid(&later, "u3", 10_000);
    assert!(matches!(
        stack
            .bids
            .commit_acceptance(&third, &later, &acceptance(&later, &third, after_end))
            .await
            .unwrap(),
        Commit::AuctionRefused(Some(_))
    ));
}

#[tokio::test]
async fn a_rejection_is_recorded_once_and_its_first_record_returned() {
    let stack = stack().await;
    let now = now();
    let auction = new_auction("public", 2, now);
    stack.auctions.create(&auction).await.unwrap();
    let low = bid(&auction, "u1", 5_000);
    let rejected = RejectedBid {
        bid_id: low.bid_id.clone(),
        auction_id: auction.id.clone(),
        user_id: low.user_id.clone(),
        reason: RejectReason::PriceTooLow,
        current_price: Amount(10_000),
        currency: auction.currency,
    };
    assert_eq!(
        stack
            .bids
            .record_rejection(&low, &rejected, now)
            .await
            .unwrap(),
        Recorded::New
    );
    let mut later = rejected.clone();
    later.current_price = Amount(9_000);
    match stack
        .bids
        .record_rejection(&low, &later, now.plus_seconds(10))
        .await
        .unwrap()
    {
        Recorded::Existing(stored) => {
            assert_eq!(stored.outcome, BidOutcome::Rejected(rejected));
        }
        Recorded::New => panic!("a second record of one id"),
    }
    // The rejection's row expires a day after its decision; an acceptance's row has no expiry.
    let expires_at = |bid_id: &BidId| {
        let client = stack.client.clone();
        let key = format!("BID#{}", bid_id.as_str());
        async move {
            let item = client
                .get_item()
                .table_name("auctions")
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(key))
                .key(
                    "sk",
                    aws_sdk_dynamodb::types::AttributeValue::S("BID".into()),
                )
                .send()
                .await
                .unwrap()
                .item
                .expect("the bid's row");
            item.get(infra::tables::EXPIRES_AT)
                .map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
        }
    };
    assert_eq!(
        expires_at(&low.bid_id).await,
        Some(now.as_seconds() + 86_400)
    );
    let winner = bid(&auction, "u2", 10_000);
    let accepted = acceptance(&auction, &winner, now);
    assert_eq!(
        stack
            .bids
            .commit_acceptance(&winner, &auction, &accepted)
            .await
            .unwrap(),
        Commit::Committed
    );
    assert_eq!(expires_at(&winner.bid_id).await, None);
}

#[tokio::test]
async fn rate_windows_count_per_subject_and_a_new_window_always_has_budget() {
    let stack = stack().await;
    let limit = RateLimit {
        max_calls: 2,
        window_seconds: 10,
    };
    let at = EpochMillis(1_800_000_009_999);
    let window = limit.window_at(at);
    let connection = RateSubject::Connection("L0SM9cOFvHcCIhw=");
    let user = RateSubject::User {
        tenant_id: "public",
        user_id: "L0SM9cOFvHcCIhw=",
    };
    let take = |subject, window| stack.rate_limits.take(subject, window, limit.max_calls);
    assert!(take(connection, window).await.unwrap());
    assert!(take(connection, window).await.unwrap());
    assert!(!take(connection, window).await.unwrap(), "budget spent");
    assert!(
        take(user, window).await.unwrap(),
        "another subject's budget"
    );
    // One millisecond later a new window starts: its first calls are admitted at once, however
    // the calls of the last window ended (a Leave then a Join sent back to back).
    let next = limit.window_at(EpochMillis(at.0 + 1));
    assert_ne!(next.number, window.number);
    assert!(take(connection, next).await.unwrap());
    assert!(take(connection, next).await.unwrap());
    assert!(!take(connection, next).await.unwrap());
    assert!(
        !take(connection, window).await.unwrap(),
        "the old window stays spent"
    );
}

#[tokio::test]
async fn auctions_are_created_listed_per_tenant_cancelled_and_ended_once() {
    let stack = stack().await;
    let now = now();
    let active = new_auction("tenant-a", 3, now);
    let mut scheduled = new_auction("tenant-a", 3, now);
    scheduled.schedule = auction_core::domain::DutchSchedule::new(
        Amount(10_000),
        Amount(2_000),
        Amount(100),
        1,
        now.plus_seconds(3600),
    )
    .unwrap();
    let other_tenant = new_auction("tenant-b", 3, now);
    for a in [&active, &scheduled, &other_tenant] {
        stack.auctions.create(a).await.unwrap();
    }
    assert!(matches!(
        stack.auctions.create(&active).await,
        Err(CreateAuctionError::AlreadyExists)
    ));
    assert_eq!(
        stack.auctions.get(&active.id).await.unwrap().as_ref(),
        Some(&active),
        "round trip"
    );

    let ids = |list: Vec<Auction>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let list = |status| stack.auctions.list("tenant-a", status, now);
    assert_eq!(
        ids(list(AuctionStatus::Active).await.unwrap()),
        std::slice::from_ref(&active.id)
    );
    assert_eq!(
        ids(list(AuctionStatus::Scheduled).await.unwrap()),
        [scheduled.id.clone()]
    );
    assert!(list(AuctionStatus::Ended).await.unwrap().is_empty());
    // By the clock alone the active one ends at its floor, before anything records it.
    let later = stack
        .auctions
        .list("tenant-a", AuctionStatus::Ended, now.plus_seconds(90))
        .await
        .unwrap();
    assert_eq!(ids(later), std::slice::from_ref(&active.id));

    let cancelled = match stack
        .auctions
        .cancel(&active, now.plus_seconds(5))
        .await
        .unwrap()
    {
        CancelOutcome::Cancelled(auction) => auction,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        cancelled.ending,
        Some(Ending {
            reason: EndReason::Cancelled,
            at: now.plus_seconds(5)
        })
    );
    assert!(matches!(
        stack.auctions.cancel(&active, now.plus_seconds(6)).await.unwrap(),
        CancelOutcome::AlreadyEnded(Some(ref ended)) if ended.ending == cancelled.ending
    ));
    let mut never_stored = active.clone();
    never_stored.id = AuctionId::generate();
    assert_eq!(
        stack.auctions.cancel(&never_stored, now).await.unwrap(),
        CancelOutcome::AlreadyEnded(None)
    );
    assert!(list(AuctionStatus::Active).await.unwrap().is_empty());
    assert_eq!(
        ids(list(AuctionStatus::Ended).await.unwrap()),
        std::slice::from_ref(&active.id)
    );
    let late = bid(&active, "u", 10_000);
    assert!(matches!(
        stack
            .bids
            .commit_acceptance(
                &late,
                &active,
                &acceptance(&active, &late, now.plus_seconds(6))
            )
            .await
            .unwrap(),
        Commit::AuctionRefused(Some(_))
    ));

    // An end is recorded once.
    let floor = Ending {
        reason: EndReason::FloorReached,
        at: now.plus_seconds(81),
    };
    assert!(!stack.auctions.record_end(&active, floor).await.unwrap());
    assert!(stack.auctions.record_end(&scheduled, floor).await.unwrap());
    assert!(!stack.auctions.record_end(&scheduled, floor).await.unwrap());
    let mut never_stored = scheduled.clone();
    never_stored.id = AuctionId::generate();
    assert!(
        !stack
            .auctions
            .record_end(&never_stored, floor)
            .await
            .unwrap()
    );
}

fn connection(id: &str, user: Option<&str>, now: EpochMillis) -> Connection {
    Connection::new(id, user.map(str::to_owned), "public", vec![], now)
}

#[tokio::test]
async fn a_connection_is_counted_once_per_group_and_uncounted_on_leave_and_remove() {
    let stack = stack_with_shards(4).await;
    let now = now();
    let a = AuctionId::generate();
    let b = AuctionId::generate();
    let c1 = connection("L0SM9cOFvHcCIhw=", Some("alice"), now);
    let c2 = connection("b/x+Y2==", Some("alice"), now);
    let c3 = connection("anon1234AAAA", None, now);
    for c in [&c1, &c2, &c3] {
        stack.connections.put(c, 10).await.unwrap();
    }
    assert_eq!(
        stack
            .connections
            .get(&c1.connection_id, now)
            .await
            .unwrap()
            .as_ref(),
        Some(&c1)
    );
    assert_eq!(
        stack.groups.join(&c1, &a, now).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(
        stack.groups.join(&c1, &a, now).await.unwrap(),
        JoinOutcome::AlreadyMember
    );
    assert_eq!(
        stack.groups.join(&c2, &a, now).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(
        stack.groups.join(&c3, &a, now).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(
        stack.groups.join(&c1, &b, now).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(stack.groups.viewer_count(&a, now).await.unwrap(), 3);
    assert_eq!(stack.groups.viewer_count(&b, now).await.unwrap(), 1);

    let mut alice = stack
        .connections
        .connections_of_user("public", "alice", now)
        .await
        .unwrap();
    alice.sort();
    assert_eq!(alice, ["L0SM9cOFvHcCIhw=", "b/x+Y2=="]);
    assert!(
        stack
            .connections
            .connections_of_user("other", "alice", now)
            .await
            .unwrap()
            .is_empty()
    );

    let mut members: Vec<_> = stack
        .groups
        .members(&a, now)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    members.sort_by(|x, y| x.connection_id.cmp(&y.connection_id));
    let ids: Vec<&str> = members.iter().map(|m| m.connection_id.as_str()).collect();
    assert_eq!(ids, ["L0SM9cOFvHcCIhw=", "anon1234AAAA", "b/x+Y2=="]);
    assert_eq!(members[0].user_id.as_deref(), Some("alice"));
    assert_eq!(members[1].user_id, None, "anonymous members carry no user");

    assert_eq!(
        stack.groups.leave(&c2.connection_id, &a).await.unwrap(),
        LeaveOutcome::Left
    );
    assert_eq!(
        stack.groups.leave(&c2.connection_id, &a).await.unwrap(),
        LeaveOutcome::NotMember
    );
    assert_eq!(stack.groups.viewer_count(&a, now).await.unwrap(), 2);

    let removed = stack
        .connections
        .remove(&c1.connection_id)
        .await
        .unwrap()
        .expect("removed once");
    assert_eq!(removed.joined.len(), 2);
    assert_eq!(
        stack.connections.remove(&c1.connection_id).await.unwrap(),
        None,
        "idempotent"
    );
    assert_eq!(stack.groups.viewer_count(&a, now).await.unwrap(), 1);
    assert_eq!(stack.groups.viewer_count(&b, now).await.unwrap(), 0);
    assert!(matches!(
        stack.groups.join(&c1, &a, now).await,
        Err(JoinError::ConnectionGone)
    ));
    assert_eq!(
        stack.groups.viewer_count(&a, now).await.unwrap(),
        1,
        "a failed join counts nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_members_over_four_shards_are_read_back_each_once() {
    let stack = stack_with_shards(4).await;
    let now = now();
    let auction = AuctionId::generate();
    let ids: Vec<String> = (0..5000).map(|i| format!("conn{i:05}AbC=")).collect();
    futures::stream::iter(ids.clone())
        .for_each_concurrent(32, |id| {
            let connections = Arc::clone(&stack.connections);
            let groups = Arc::clone(&stack.groups);
            let auction = auction.clone();
            async move {
                let c = connection(&id, Some(&format!("user-{id}")), now);
                connections.put(&c, 10).await.unwrap();
                assert_eq!(
                    groups.join(&c, &auction, now).await.unwrap(),
                    JoinOutcome::Joined
                );
            }
        })
        .await;
    let started = Instant::now();
    let mut pages = 0;
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stream = stack.groups.members(&auction, now);
    while let Some(page) = stream.next().await {
        let page = page.unwrap();
        pages += 1;
        total += page.len();
        seen.extend(page.into_iter().map(|m| m.connection_id));
    }
    println!(
        "read 5,000 members in {pages} pages in {:?}",
        started.elapsed()
    );
    assert_eq!(total, 5000, "each member once");
    assert_eq!(
        seen,
        ids.into_iter().collect::<HashSet<_>>(),
        "every member"
    );
    assert_eq!(
        stack.groups.viewer_count(&auction, now).await.unwrap(),
        5000
    );
}

#[tokio::test]
async fn a_user_holds_at_most_the_cap_of_connections_even_when_they_race() {
    let stack = stack().await;
    let now = now();
    let cap = 3;
    // Ten connections of one user at once: exactly the cap is stored.
    let attempts = (0..10).map(|i| {
        let connections = Arc::clone(&stack.connections);
        async move {
            let c = connection(&format!("race{i:02}AAAAA="), Some("mallory"), now);
            (
                c.connection_id.clone(),
                connections.put(&c, cap).await.unwrap(),
            )
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let stored: Vec<&String> = outcomes
        .iter()
        .filter(|(_, a)| *a == Admission::Stored)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(stored.len(), 3, "{outcomes:?}");
    for (id, admission) in &outcomes {
        let row = stack.connections.get(id, now).await.unwrap();
        assert_eq!(row.is_some(), *admission == Admission::Stored, "{id}");
    }
    // Another user and anonymous viewers are not affected.
    let other = connection("otherUserAAA=", Some("oscar"), now);
    assert_eq!(
        stack.connections.put(&other, cap).await.unwrap(),
        Admission::Stored
    );
    for i in 0..5 {
        let anonymous = connection(&format!("anon{i}AAAAAA="), None, now);
        assert_eq!(
            stack.connections.put(&anonymous, cap).await.unwrap(),
            Admission::Stored
        );
    }
    // A removal makes room for one.
    stack.connections.remove(stored[0]).await.unwrap();
    let next = connection("nextConnAAAA=", Some("mallory"), now);
    assert_eq!(
        stack.connections.put(&next, cap).await.unwrap(),
        Admission::Stored
    );
    let over = connection("overConnAAAA=", Some("mallory"), now);
    assert_eq!(
        stack.connections.put(&over, cap).await.unwrap(),
        Admission::UserAtCapacity
    );
    // Connections that died without `$disconnect` (their rows expired) do not hold the count:
    // a full count is checked against the user's live connections before refusing.
    let later = now.plus_seconds(3 * 3600);
    let revived = connection("revivedAAAAA=", Some("mallory"), later);
    assert_eq!(
        stack.connections.put(&revived, cap).await.unwrap(),
        Admission::Stored
    );
}

#[tokio::test]
async fn expired_connection_rows_are_not_returned() {
    let stack = stack().await;
    let now = now();
    let auction = AuctionId::generate();
    let old = connection("oldConnAAAA=", Some("bob"), now.plus_seconds(-3 * 3600));
    let fresh = connection("newConnAAAA=", Some("bob"), now);
    stack.connections.put(&old, 10).await.unwrap();
    stack.connections.put(&fresh, 10).await.unwrap();
    assert_eq!(
        stack
            .connections
            .get(&old.connection_id, now)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        stack.groups.join(&old, &auction, now).await,
        Err(JoinError::ConnectionGone)
    ));
    assert_eq!(
        stack.groups.join(&fresh, &auction, now).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(
        stack
            .connections
            .connections_of_user("public", "bob", now)
            .await
            .unwrap(),
        ["newConnAAAA="]
    );
    // Three hours on, the fresh one has expired too: nothing is returned although rows remain.
    let later = now.plus_seconds(3 * 3600);
    assert_eq!(
        stack
            .connections
            .get(&fresh.connection_id, later)
            .await
            .unwrap(),
        None
    );
    assert!(
        stack
            .connections
            .connections_of_user("public", "bob", later)
            .await
            .unwrap()
            .is_empty()
    );
    let members: Vec<_> = stack
        .groups
        .members(&auction, later)
        .collect::<Vec<_>>()
        .await;
    assert!(members.into_iter().all(|page| page.unwrap().is_empty()));
    assert_eq!(stack.groups.viewer_count(&auction, later).await.unwrap(), 0);
    // An expired connection can still be removed, so counts are corrected when it is found dead.
    assert!(
        stack
            .connections
            .remove(&old.connection_id)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_missing_table_is_reported_as_such() {
    let stack = stack().await;
    let auctions = DynamoAuctions::new(stack.client.clone(), "no-such-table");
    match auctions.get(&AuctionId::generate()).await {
        Err(StoreError::TableMissing { table }) => assert_eq!(table, "no-such-table"),
        other => panic!("expected TableMissing, got {other:?}"),
    }
    let groups = DynamoGroups::new(stack.client.clone(), "no-such-table", 2);
    let connections = DynamoConnections::new(stack.client.clone(), "no-such-table", groups.clone());
    let c = connection("x", None, now());
    assert!(matches!(
        connections.put(&c, 10).await,
        Err(StoreError::TableMissing { .. })
    ));
    let first = groups.members(&AuctionId::generate(), now()).next().await;
    assert!(matches!(first, Some(Err(StoreError::TableMissing { .. }))));
}

/// A loopback endpoint that answers every DynamoDB call as throttled, the way DynamoDB does on
/// the wire, so the real SDK parses a real throttling error.
async fn always_throttled_endpoint() -> String {
    use axum::http::{StatusCode, header};
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn throttling_is_reported_as_such_after_the_sdk_retries() {
    let endpoint = always_throttled_endpoint().await;
    let base = local_client(&endpoint);
    let config = base
        .config()
        .to_builder()
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(2))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let auctions = DynamoAuctions::new(client.clone(), "auctions");
    assert!(matches!(
        auctions.get(&AuctionId::generate()).await,
        Err(StoreError::Throttled)
    ));
    let now = now();
    let auction = new_auction("public", 1, now);
    assert!(matches!(
        auctions.create(&auction).await,
        Err(CreateAuctionError::Store(StoreError::Throttled))
    ));
    let bids = DynamoBids::new(client.clone(), "auctions");
    let request = bid(&auction, "u", 10_000);
    assert!(matches!(
        bids.commit_acceptance(&request, &auction, &acceptance(&auction, &request, now))
            .await,
        Err(StoreError::Throttled)
    ));
    let groups = DynamoGroups::new(client, "connections", 1);
    assert!(matches!(
        groups.viewer_count(&auction.id, now).await,
        Err(StoreError::Throttled)
    ));
    assert!(StoreError::Throttled.is_retryable());
}

/// How many auctions each live-index partition holds.
/// One page of the live index's partition `LIVE#{shard}`, as stored (not through the adapter).
fn live_partition_query(
    client: &aws_sdk_dynamodb::Client,
    shard: u32,
) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
    client
        .query()
        .table_name("auctions")
        .index_name(infra::tables::BY_LIVE_INDEX)
        .key_condition_expression("liveKey = :k")
        .expression_attribute_values(
            ":k",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("LIVE#{shard}")),
        )
}

async fn live_partition_sizes(client: &aws_sdk_dynamodb::Client, partitions: u32) -> Vec<usize> {
    let mut sizes = Vec::new();
    for shard in 0..partitions {
        let page = live_partition_query(client, shard)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .send()
            .await
            .unwrap();
        sizes.push(usize::try_from(page.count()).unwrap());
    }
    sizes
}

#[tokio::test]
async fn every_live_auction_is_listed_from_every_index_shard_however_many() {
    let stack = stack().await;
    let sharded = DynamoAuctions::new(stack.client.clone(), "auctions").with_live_shards(8);
    // A row from before the index was sharded (`liveKey` = `LIVE`) is still listed.
    let legacy = new_auction("old", 1, now());
    stack.auctions.create(&legacy).await.unwrap();
    stack
        .client
        .update_item()
        .table_name("auctions")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("AUCTION#{}", legacy.id)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("AUCTION".into()),
        )
        .update_expression("SET liveKey = :legacy")
        .expression_attribute_values(
            ":legacy",
            aws_sdk_dynamodb::types::AttributeValue::S("LIVE".into()),
        )
        .send()
        .await
        .unwrap();
    // More than the 500 the ticker used to keep, of three tenants; one of them ended.
    let created: Vec<Auction> = futures::stream::iter(0..1_200)
        .map(|i| {
            let sharded = &sharded;
            async move {
                let auction = new_auction(["a", "b", "c"][i % 3], 1, now());
                sharded.create(&auction).await.unwrap();
                auction
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let ended = &created[7];
    let ending = Ending {
        reason: EndReason::FloorReached,
        at: now(),
    };
    assert!(sharded.record_end(ended, ending).await.unwrap());

    let sizes = live_partition_sizes(&stack.client, 8).await;
    assert!(sizes.iter().all(|s| (100..200).contains(s)), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 1_199);

    let expected: HashSet<String> = created
        .iter()
        .filter(|a| a.id != ended.id)
        .chain(std::iter::once(&legacy))
        .map(|a| a.id.to_string())
        .collect();
    // Each ticker shard lists its own part, the legacy row in shard 0; together, every one once.
    let mut by_shard = Vec::new();
    for shard in 0..8 {
        let part = sharded.live_in_shard(shard).await.unwrap();
        assert!(
            part.windows(2)
                .all(|w| w[0].schedule.starts_at() <= w[1].schedule.starts_at())
        );
        for auction in &part {
            let expected_shard = if auction.id == legacy.id {
                0
            } else {
                auction_aws::dynamo::shard_of(auction.id.as_str(), 8)
            };
            assert_eq!(
                expected_shard, shard,
                "{} listed by the wrong shard",
                auction.id
            );
        }
        by_shard.extend(part.into_iter().map(|a| a.id.to_string()));
    }
    assert_eq!(by_shard.len(), expected.len(), "each exactly once");
    assert_eq!(by_shard.into_iter().collect::<HashSet<_>>(), expected);

    // The count may grow while auctions are live: a reader of 16 partitions finds all of them.
    for reader in [&sharded, &sharded.clone().with_live_shards(16)] {
        let live = reader.live().await.unwrap();
        let ids: Vec<String> = live.iter().map(|a| a.id.to_string()).collect();
        assert_eq!(ids.len(), expected.len(), "each exactly once");
        assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), expected);
        assert!(
            live.windows(2)
                .all(|w| w[0].schedule.starts_at() <= w[1].schedule.starts_at())
        );
    }
}

#[tokio::test]
async fn sales_write_nothing_the_live_index_carries() {
    let stack = stack().await;
    let at = now();
    let auction = new_auction("public", 3, at);
    stack.auctions.create(&auction).await.unwrap();
    let request = bid(&auction, "u1", 10_000);
    stack
        .bids
        .commit_acceptance(&request, &auction, &acceptance(&auction, &request, at))
        .await
        .unwrap();
    let page = live_partition_query(&stack.client, 0).send().await.unwrap();
    let [row] = page.items() else {
        panic!("one live row: {:?}", page.items());
    };
    // DynamoDB writes an index only when a key or a projected attribute changes: the sale
    // changed `remainingItems` and `version`, which the index does not carry.
    let mut carried: Vec<&str> = row.keys().map(String::as_str).collect();
    carried.sort_unstable();
    let mut expected: Vec<&str> = infra::tables::LIVE_SCHEDULE_ATTRIBUTES
        .iter()
        .copied()
        .chain(["pk", "sk", "liveKey", "startsAtMs"])
        .collect();
    expected.sort_unstable();
    assert_eq!(carried, expected);
    // The listing is the auction's schedule; the row has the count.
    let [listed] = &stack.auctions.live_in_shard(0).await.unwrap()[..] else {
        panic!("one listed auction");
    };
    assert_eq!(listed.schedule, auction.schedule);
    assert_eq!(listed.remaining_items, 3, "the listing carries no count");
    let row = stack
        .auctions
        .get_latest(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.remaining_items, 2);
}

#[tokio::test]
async fn each_ticker_shard_has_a_lease_of_its_own() {
    let stack = stack().await;
    let lease = auction_aws::dynamo::DynamoTickerLease::new(stack.client.clone(), "auctions");
    let at = now();
    assert_eq!(
        lease.acquire(0, "run-a", at, 10_000).await.unwrap(),
        Some(String::new())
    );
    // Another shard is free while shard 0 is held; shard 0 is not.
    assert_eq!(
        lease.acquire(1, "run-b", at, 10_000).await.unwrap(),
        Some(String::new())
    );
    assert_eq!(lease.acquire(0, "run-b", at, 10_000).await.unwrap(), None);
    // Each shard's state goes to that shard's next holder only.
    assert!(lease.release(0, "run-a", "state-0").await.unwrap());
    assert!(lease.release(1, "run-b", "state-1").await.unwrap());
    assert!(
        !lease.renew(1, "run-a", at, 10_000, "x").await.unwrap(),
        "not the holder"
    );
    assert_eq!(
        lease.acquire(0, "run-c", at, 10_000).await.unwrap(),
        Some("state-0".to_owned())
    );
    assert_eq!(
        lease.acquire(1, "run-c", at, 10_000).await.unwrap(),
        Some("state-1".to_owned())
    );
}

#[tokio::test]
async fn the_outbox_spreads_over_its_partitions_and_is_swept_oldest_first() {
    use auction_core::ports::Outbox;
    let stack = stack().await;
    let outbox = auction_aws::dynamo::DynamoOutbox::new(stack.client.clone(), "auctions");
    let auction = new_auction("acme", 40, now());
    stack.auctions.create(&auction).await.unwrap();
    let start = now().0;
    for i in 0..40 {
        let request = bid(&auction, &format!("buyer-{i}"), 100_000);
        let accepted = acceptance(&auction, &request, EpochMillis(start + i));
        assert_eq!(
            stack
                .bids
                .commit_acceptance(&request, &auction, &accepted)
                .await
                .unwrap(),
            Commit::Committed
        );
    }
    // The entries went to several partitions of the index, none to the unsharded `PENDING`.
    let mut partitions = HashSet::new();
    for shard in 0..16 {
        let found = stack
            .client
            .query()
            .table_name("auctions")
            .index_name(infra::tables::BY_PENDING_NOTICE_INDEX)
            .key_condition_expression("noticeKey = :p")
            .expression_attribute_values(
                ":p",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("PENDING#{shard}")),
            )
            .send()
            .await
            .unwrap()
            .count();
        if found > 0 {
            partitions.insert(shard);
        }
    }
    assert!(
        partitions.len() >= 8,
        "40 sales over 16 partitions: {partitions:?}"
    );
    // The sweep sees the oldest first, across partitions.
    let pending = outbox
        .pending(EpochMillis(start + 1_000), 10)
        .await
        .unwrap();
    let decided: Vec<i64> = pending.iter().map(|p| p.bid.accepted_at.0).collect();
    assert_eq!(decided, (start..start + 10).collect::<Vec<_>>());
    for notice in &pending {
        outbox.mark_notified(&notice.bid.bid_id).await.unwrap();
    }
    let rest = outbox
        .pending(EpochMillis(start + 1_000), 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 30);
    assert_eq!(rest[0].bid.accepted_at.0, start + 10);
}

/// The auction's item counts as stored: (remaining, held, confirmed, unsold, released).
async fn item_counts(stack: &Stack, auction: &Auction) -> (u32, u32, u32, u32, u32) {
    let item = stack
        .client
        .get_item()
        .table_name("auctions")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("AUCTION#{}", auction.id)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("AUCTION".into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let count = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .map_or(0, |n| n.parse().unwrap())
    };
    (
        count("remainingItems"),
        count("heldItems"),
        count("confirmedItems"),
        count("unsoldItems"),
        count("releasedItems"),
    )
}

/// A sale of one item of `auction` at `at` whose hold lapses at `expires_at`.
async fn sell(
    stack: &Stack,
    auction: &Auction,
    at: EpochMillis,
    expires_at: EpochMillis,
) -> String {
    let request = bid(auction, "buyer", 10_000);
    let mut accepted = acceptance(auction, &request, at);
    accepted.reservation.expires_at = expires_at;
    assert_eq!(
        stack
            .bids
            .commit_acceptance(&request, auction, &accepted)
            .await
            .unwrap(),
        Commit::Committed
    );
    accepted.reservation.reservation_id
}

#[tokio::test]
async fn a_sale_holds_its_item_until_checkout_confirms_it_once() {
    let stack = stack().await;
    let at = now();
    let auction = new_auction("public", 2, at);
    stack.auctions.create(&auction).await.unwrap();
    let id = sell(&stack, &auction, at, at.plus_seconds(600)).await;
    assert_eq!(item_counts(&stack, &auction).await, (1, 1, 0, 0, 0));
    let held = stack.reservations.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (held.state, held.user_id.as_str()),
        (HoldState::Held, "buyer")
    );

    let ConfirmOutcome::Confirmed(confirmed) = stack.reservations.confirm(&id, at).await.unwrap()
    else {
        panic!("confirmed")
    };
    assert_eq!(confirmed.state, HoldState::Confirmed);
    assert!(matches!(
        stack
            .reservations
            .confirm(&id, at.plus_seconds(1))
            .await
            .unwrap(),
        ConfirmOutcome::AlreadyConfirmed(_)
    ));
    // A confirmed hold is final: past its expiry, nothing releases it.
    assert_eq!(
        stack
            .reservations
            .release(&id, at.plus_seconds(900))
            .await
            .unwrap(),
        ReleaseOutcome::NotDue
    );
    assert!(
        stack
            .reservations
            .due(0, at.plus_seconds(900), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(item_counts(&stack, &auction).await, (1, 0, 1, 0, 0));
    assert_eq!(
        stack
            .reservations
            .confirm("no-such-hold", at)
            .await
            .unwrap(),
        ConfirmOutcome::NotFound
    );
}

#[tokio::test]
async fn a_lapsed_hold_returns_its_item_while_the_schedule_runs_and_is_unsold_after() {
    let stack = stack().await;
    let at = now();
    let auction = new_auction("public", 1, at);
    stack.auctions.create(&auction).await.unwrap();
    let first = sell(&stack, &auction, at, at.plus_seconds(5)).await;
    assert_eq!(item_counts(&stack, &auction).await, (0, 1, 0, 0, 0));
    // Not due before its expiry; due from it on, soonest first.
    assert!(
        stack
            .reservations
            .due(0, at.plus_seconds(4), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = stack
        .reservations
        .due(0, at.plus_seconds(5), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter()
            .map(|h| h.reservation_id.clone())
            .collect::<Vec<_>>(),
        vec![first.clone()]
    );
    // The index carries what a release and its announcement need.
    assert_eq!(
        (
            &due[0].auction_id,
            due[0].tenant_id.as_str(),
            due[0].user_id.as_str()
        ),
        (&auction.id, "public", "buyer")
    );
    // Checkout comes too late.
    assert!(matches!(
        stack
            .reservations
            .confirm(&first, at.plus_seconds(5))
            .await
            .unwrap(),
        ConfirmOutcome::Expired(_)
    ));
    let ReleaseOutcome::Released { to, items, .. } = stack
        .reservations
        .release(&first, at.plus_seconds(5))
        .await
        .unwrap()
    else {
        panic!("released")
    };
    assert_eq!((to, items.remaining_items), (Release::Returned, 1));
    assert_eq!((items.sold_items, items.released_items), (1, 1));
    assert_eq!(item_counts(&stack, &auction).await, (1, 0, 0, 0, 1));
    // Released once: the sweep finds it no more, and a second release does nothing.
    assert!(
        stack
            .reservations
            .due(0, at.plus_seconds(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        stack
            .reservations
            .release(&first, at.plus_seconds(6))
            .await
            .unwrap(),
        ReleaseOutcome::NotDue
    );

    // Sold again; this hold lapses after the schedule ended (it runs 81 s): unsold.
    let second = sell(&stack, &auction, at.plus_seconds(6), at.plus_seconds(100)).await;
    let ReleaseOutcome::Released { to, items, .. } = stack
        .reservations
        .release(&second, at.plus_seconds(100))
        .await
        .unwrap()
    else {
        panic!("released")
    };
    assert_eq!((to, items.remaining_items), (Release::Unsold, 0));
    assert_eq!((items.sold_items, items.released_items), (2, 1));
    assert_eq!(item_counts(&stack, &auction).await, (0, 0, 0, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_and_release_racing_on_a_hold_end_it_exactly_once_a_hundred_times() {
    let stack = stack().await;
    let at = now();
    let auction = new_auction("public", 100, at);
    stack.auctions.create(&auction).await.unwrap();
    let expires = at.plus_seconds(30);
    let mut holds = Vec::new();
    for _ in 0..100 {
        holds.push(sell(&stack, &auction, at, expires).await);
    }
    // Checkout's clock says one millisecond before the expiry, the sweep's says the expiry: each
    // alone would succeed; together, exactly one does.
    let outcomes = futures::future::join_all(holds.iter().map(|id| {
        let stack = &stack;
        async move {
            let (confirmed, released) = tokio::join!(
                stack.reservations.confirm(id, EpochMillis(expires.0 - 1)),
                stack.reservations.release(id, expires)
            );
            (
                matches!(confirmed.unwrap(), ConfirmOutcome::Confirmed(_)),
                matches!(released.unwrap(), ReleaseOutcome::Released { .. }),
            )
        }
    }))
    .await;
    let confirmed = outcomes.iter().filter(|(c, _)| *c).count();
    let released = outcomes.iter().filter(|(_, r)| *r).count();
    assert!(
        outcomes.iter().all(|(c, r)| c != r),
        "exactly one of each pair"
    );
    let (remaining, held, confirmed_items, unsold, returned) = item_counts(&stack, &auction).await;
    assert_eq!(held, 0);
    assert_eq!(confirmed_items as usize, confirmed);
    assert_eq!((returned + unsold) as usize, released);
    assert_eq!(
        remaining + held + confirmed_items + unsold,
        100,
        "the counts add up"
    );
    for id in &holds {
        let state = stack.reservations.get(id).await.unwrap().unwrap().state;
        assert_ne!(state, HoldState::Held);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_auctions_lapsed_holds_are_released_together_leaving_out_what_checkout_confirmed() {
    use auction_core::ports::reservations::DueHold;
    let stack = stack().await;
    let at = now();
    let auction = new_auction("public", 10, at);
    stack.auctions.create(&auction).await.unwrap();
    let expires = at.plus_seconds(30);
    let mut holds = Vec::new();
    for _ in 0..10 {
        holds.push(sell(&stack, &auction, at, expires).await);
    }
    let as_due = |id: &String| DueHold {
        reservation_id: id.clone(),
        auction_id: auction.id.clone(),
        tenant_id: "public".into(),
        user_id: "buyer".into(),
    };
    // The sweep read all ten; checkout confirmed three before the sweep's write.
    let listed: Vec<DueHold> = holds.iter().map(as_due).collect();
    for id in &holds[..3] {
        assert!(matches!(
            stack
                .reservations
                .confirm(id, EpochMillis(expires.0 - 1))
                .await
                .unwrap(),
            ConfirmOutcome::Confirmed(_)
        ));
    }
    let batch = stack
        .reservations
        .release_due(&auction.id, &listed, expires)
        .await
        .unwrap();
    assert_eq!(batch.to, Release::Returned);
    assert_eq!(
        batch
            .released
            .iter()
            .map(|h| h.reservation_id.clone())
            .collect::<Vec<_>>(),
        holds[3..].to_vec(),
        "the seven still held, in one write"
    );
    assert_eq!(
        (
            batch.items.remaining_items,
            batch.items.sold_items,
            batch.items.released_items
        ),
        (7, 10, 7)
    );
    assert_eq!(item_counts(&stack, &auction).await, (7, 0, 3, 0, 7));
    // Exactly once: a second sweep of the same list releases nothing.
    let again = stack
        .reservations
        .release_due(&auction.id, &listed, expires)
        .await
        .unwrap();
    assert!(again.released.is_empty());
    assert_eq!(item_counts(&stack, &auction).await, (7, 0, 3, 0, 7));
    assert!(
        stack
            .reservations
            .due(0, expires, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // After the schedule (it runs 81 s), lapsed holds are unsold together.
    let late: Vec<DueHold> = [
        sell(&stack, &auction, at.plus_seconds(31), at.plus_seconds(90)).await,
        sell(&stack, &auction, at.plus_seconds(31), at.plus_seconds(90)).await,
    ]
    .iter()
    .map(as_due)
    .collect();
    let unsold = stack
        .reservations
        .release_due(&auction.id, &late, at.plus_seconds(100))
        .await
        .unwrap();
    assert_eq!((unsold.to, unsold.released.len()), (Release::Unsold, 2));
    assert_eq!(item_counts(&stack, &auction).await, (5, 0, 3, 2, 7));
}

#[tokio::test]
async fn a_release_enters_the_outbox_with_its_transaction_and_leaves_it_once_announced() {
    let stack = stack().await;
    let outbox = auction_aws::dynamo::DynamoOutbox::new(stack.client.clone(), "auctions");
    let at = now();
    let auction = new_auction("public", 2, at);
    stack.auctions.create(&auction).await.unwrap();
    let hold = sell(&stack, &auction, at, at.plus_seconds(1)).await;
    let later = at.plus_seconds(2);
    assert!(matches!(
        stack.reservations.release(&hold, later).await.unwrap(),
        ReleaseOutcome::Released { .. }
    ));
    // Listed as a release (the sweep died before announcing it), never as a sale.
    let releases = outbox
        .pending_releases(later.plus_seconds(10), 10)
        .await
        .unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].reservation_id, hold);
    assert_eq!(releases[0].released_to, Some(Release::Returned));
    // The sale's own entry (nobody announced it here) is the only sale: the release's row shares
    // the partitions and is not read as a bid.
    let sales = outbox.pending(later.plus_seconds(10), 10).await.unwrap();
    assert_eq!(sales.len(), 1);
    // Not before its grace: the sweep that released it announces it first.
    assert!(outbox.pending_releases(later, 10).await.unwrap().is_empty());
    outbox.mark_release_notified(&hold).await.unwrap();
    outbox.mark_release_notified(&hold).await.unwrap();
    assert!(
        outbox
            .pending_releases(later.plus_seconds(10), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
