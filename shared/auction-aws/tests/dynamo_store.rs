//! The DynamoDB adapters against a real DynamoDB-compatible engine (`dynoxide`, embedded, in
//! memory, one per test with its own tables), reached through `aws-sdk-dynamodb` over HTTP.

#![allow(clippy::unwrap_used)] // a test's helpers may panic: that is how they fail the test

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use infra::embedded::{EmbeddedDynamo, local_client};
use infra::tables::{AUCTIONS, CONNECTIONS};
use serde_json::json;
use shared::domain::{
    Amount, Auction, AuctionId, AuctionStatus, BidId, BidOutcome, BidRequest, Connection,
    CreateAuctionRequest, EndReason, Ending, EpochMillis, PlacedBid, RejectReason,
};
use shared::dynamo::{DynamoAuctions, DynamoConnections};
use shared::ports::{
    AuctionStore, CancelError, ConnectionStore, CreateAuctionError, JoinError, JoinOutcome,
    LeaveOutcome, PlaceBidError, StoreError,
};

struct Stack {
    _engine: EmbeddedDynamo,
    client: aws_sdk_dynamodb::Client,
    auctions: Arc<DynamoAuctions>,
    connections: Arc<DynamoConnections>,
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
    Stack {
        auctions: Arc::new(DynamoAuctions::new(client.clone(), "auctions")),
        connections: Arc::new(DynamoConnections::new(
            client.clone(),
            "connections",
            shards,
        )),
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

fn accepted(placed: &PlacedBid) -> bool {
    matches!(placed.outcome, BidOutcome::Accepted(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bid_storm_sells_exactly_the_stock_every_round() {
    let stack = stack().await;
    const ROUNDS: usize = 20;
    const BIDDERS: usize = 200;
    const ITEMS: u32 = 10;
    let mut timings = Vec::new();
    for round in 0..ROUNDS {
        let now = EpochMillis::now();
        let auction = new_auction("public", ITEMS, now);
        stack.auctions.create(&auction).await.unwrap();
        let started = Instant::now();
        let bids = (0..BIDDERS).map(|i| {
            let store = Arc::clone(&stack.auctions);
            let request = bid(&auction, &format!("user-{i}"), 10_000);
            tokio::spawn(async move { store.place_bid(&request, now).await })
        });
        let results: Vec<PlacedBid> = futures::future::join_all(bids)
            .await
            .into_iter()
            .map(|joined| {
                joined
                    .expect("task ran")
                    .expect("every bid gets an outcome")
            })
            .collect();
        timings.push(started.elapsed());

        let winners = results.iter().filter(|p| accepted(p)).count();
        assert_eq!(
            winners, ITEMS as usize,
            "round {round}: exactly the stock is sold"
        );
        for placed in results.iter().filter(|p| !accepted(p)) {
            match &placed.outcome {
                BidOutcome::Rejected(r) => {
                    assert_eq!(r.reason, RejectReason::SoldOut, "round {round}")
                }
                BidOutcome::Accepted(_) => unreachable!(),
            }
        }
        let reservations: HashSet<String> = results
            .iter()
            .filter_map(|p| match &p.outcome {
                BidOutcome::Accepted(a) => Some(a.reservation.reservation_id.clone()),
                BidOutcome::Rejected(_) => None,
            })
            .collect();
        assert_eq!(
            reservations.len(),
            ITEMS as usize,
            "one reservation per item"
        );
        assert_eq!(
            results.iter().filter(|p| p.ended.is_some()).count(),
            1,
            "round {round}: exactly one bid records the SoldOut end"
        );
        let after = stack.auctions.get(&auction.id).await.unwrap().unwrap();
        assert_eq!(after.remaining_items, 0, "round {round}: never below zero");
        assert_eq!(after.ending.map(|e| e.reason), Some(EndReason::SoldOut));
        for placed in results.iter().filter(|p| accepted(p)) {
            assert!(placed.remaining_items.is_some_and(|r| r < ITEMS));
        }
    }
    timings.sort();
    let total: std::time::Duration = timings.iter().sum();
    println!(
        "bid storm: {ROUNDS} rounds of {BIDDERS} concurrent bids on {ITEMS} items; \
         per round median {:?}, max {:?}, total {:?}",
        timings[ROUNDS / 2],
        timings[ROUNDS - 1],
        total
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bid_id_sent_fifty_times_takes_one_item() {
    let stack = stack().await;
    let now = EpochMillis::now();
    let auction = new_auction("public", 5, now);
    stack.auctions.create(&auction).await.unwrap();
    let request = bid(&auction, "user-1", 10_000);
    let sends = (0..50).map(|_| {
        let store = Arc::clone(&stack.auctions);
        let request = request.clone();
        tokio::spawn(async move { store.place_bid(&request, now).await })
    });
    let results: Vec<PlacedBid> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|p| !p.replayed).count(),
        1,
        "one send is the original"
    );
    let first = &results.iter().find(|p| !p.replayed).unwrap().outcome;
    assert!(matches!(first, BidOutcome::Accepted(_)));
    for placed in &results {
        assert_eq!(&placed.outcome, first, "every caller gets the same outcome");
    }
    let after = stack.auctions.get(&auction.id).await.unwrap().unwrap();
    assert_eq!(after.remaining_items, 4, "one item taken");

    // The same bidId with another price, or from another user, is not the same bid.
    let mut changed = request.clone();
    changed.bid_price = Amount(9_999);
    assert!(matches!(
        stack.auctions.place_bid(&changed, now).await,
        Err(PlaceBidError::BidIdReused)
    ));
    let mut other_user = request.clone();
    other_user.user_id = "user-2".into();
    assert!(matches!(
        stack.auctions.place_bid(&other_user, now).await,
        Err(PlaceBidError::BidIdReused)
    ));
    assert_eq!(
        stack
            .auctions
            .get(&auction.id)
            .await
            .unwrap()
            .unwrap()
            .remaining_items,
        4
    );
}

#[tokio::test]
async fn a_rejected_bid_replays_its_first_outcome() {
    let stack = stack().await;
    let now = EpochMillis::now();
    let auction = new_auction("public", 2, now);
    stack.auctions.create(&auction).await.unwrap();
    let low = bid(&auction, "user-1", 5_000);
    let first = stack.auctions.place_bid(&low, now).await.unwrap();
    let BidOutcome::Rejected(rejection) = &first.outcome else {
        panic!("{first:?}")
    };
    assert_eq!(rejection.reason, RejectReason::PriceTooLow);
    assert_eq!(rejection.current_price, Amount(10_000));
    assert!(!first.replayed);
    // Later the price is below the bid, but the same bidId still gets its first outcome.
    let later = now.plus_seconds(60);
    let again = stack.auctions.place_bid(&low, later).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.outcome, first.outcome);
    assert_eq!(
        stack
            .auctions
            .get(&auction.id)
            .await
            .unwrap()
            .unwrap()
            .remaining_items,
        2
    );
}

#[tokio::test]
async fn the_winner_pays_the_current_price_not_its_bid() {
    let stack = stack().await;
    let now = EpochMillis::now();
    let auction = new_auction("public", 2, now);
    stack.auctions.create(&auction).await.unwrap();
    let placed = stack
        .auctions
        .place_bid(&bid(&auction, "u", 10_000), now.plus_seconds(13))
        .await
        .unwrap();
    let BidOutcome::Accepted(win) = placed.outcome else {
        panic!()
    };
    assert_eq!(win.winning_price, Amount(8_700));
    assert_eq!(win.reservation.expires_at, now.plus_seconds(13 + 600));
    assert_eq!(placed.remaining_items, Some(1));
    assert_eq!(placed.ended, None);
}

#[tokio::test]
async fn a_sold_out_auction_is_rejected_from_a_read_without_any_write() {
    let stack = stack().await;
    let now = EpochMillis::now();
    let auction = new_auction("public", 1, now);
    stack.auctions.create(&auction).await.unwrap();
    let placed = stack
        .auctions
        .place_bid(&bid(&auction, "winner", 10_000), now)
        .await
        .unwrap();
    assert_eq!(
        placed.ended,
        Some(Ending {
            reason: EndReason::SoldOut,
            at: now
        })
    );

    let version = |item: &std::collections::HashMap<
        String,
        aws_sdk_dynamodb::types::AttributeValue,
    >| { item["version"].as_n().unwrap().clone() };
    let auction_item = || async {
        stack
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
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    };
    let before = version(&auction_item().await);
    let late = bid(&auction, "late", 10_000);
    let placed = stack.auctions.place_bid(&late, now).await.unwrap();
    let BidOutcome::Rejected(r) = placed.outcome else {
        panic!()
    };
    assert_eq!(r.reason, RejectReason::SoldOut);
    assert_eq!(
        version(&auction_item().await),
        before,
        "the auction item was not written"
    );
    let stored_bid = stack
        .client
        .get_item()
        .table_name("auctions")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("BID#{}", late.bid_id.as_str())),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("BID".into()),
        )
        .send()
        .await
        .unwrap();
    assert!(stored_bid.item.is_none(), "no bid record was written");
}

#[tokio::test]
async fn bids_respect_tenants_and_the_active_window() {
    let stack = stack().await;
    let now = EpochMillis::now();
    let auction = new_auction("tenant-a", 3, now);
    stack.auctions.create(&auction).await.unwrap();
    let mut foreign = bid(&auction, "u", 10_000);
    foreign.tenant_id = "tenant-b".into();
    assert!(matches!(
        stack.auctions.place_bid(&foreign, now).await,
        Err(PlaceBidError::WrongTenant)
    ));
    let mut unknown = bid(&auction, "u", 10_000);
    unknown.auction_id = AuctionId::generate();
    assert!(matches!(
        stack.auctions.place_bid(&unknown, now).await,
        Err(PlaceBidError::AuctionNotFound)
    ));

    let early = stack
        .auctions
        .place_bid(&bid(&auction, "u", 10_000), now.plus_seconds(-5))
        .await
        .unwrap();
    assert!(
        matches!(early.outcome, BidOutcome::Rejected(ref r) if r.reason == RejectReason::NotActive)
    );
    let late = stack
        .auctions
        .place_bid(&bid(&auction, "u", 10_000), now.plus_seconds(81))
        .await
        .unwrap();
    assert!(
        matches!(late.outcome, BidOutcome::Rejected(ref r) if r.reason == RejectReason::NotActive)
    );
    assert_eq!(
        stack
            .auctions
            .get(&auction.id)
            .await
            .unwrap()
            .unwrap()
            .remaining_items,
        3
    );
}

#[tokio::test]
async fn auctions_are_created_listed_per_tenant_and_cancelled_by_their_seller() {
    let stack = stack().await;
    let now = EpochMillis::now();
    let active = new_auction("tenant-a", 3, now);
    let mut scheduled = new_auction("tenant-a", 3, now);
    scheduled.schedule = shared::domain::DutchSchedule::new(
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

    assert!(matches!(
        stack
            .auctions
            .cancel(&active.id, "tenant-b", "seller-1", now)
            .await,
        Err(CancelError::NotFound)
    ));
    assert!(matches!(
        stack
            .auctions
            .cancel(&active.id, "tenant-a", "someone-else", now)
            .await,
        Err(CancelError::NotSeller)
    ));
    let cancelled = stack
        .auctions
        .cancel(&active.id, "tenant-a", "seller-1", now.plus_seconds(5))
        .await
        .unwrap();
    assert_eq!(
        cancelled.ending,
        Some(Ending {
            reason: EndReason::Cancelled,
            at: now.plus_seconds(5)
        })
    );
    assert!(matches!(
        stack
            .auctions
            .cancel(&active.id, "tenant-a", "seller-1", now.plus_seconds(6))
            .await,
        Err(CancelError::AlreadyEnded(_))
    ));
    assert!(list(AuctionStatus::Active).await.unwrap().is_empty());
    assert_eq!(
        ids(list(AuctionStatus::Ended).await.unwrap()),
        std::slice::from_ref(&active.id)
    );
    let placed = stack
        .auctions
        .place_bid(&bid(&active, "u", 10_000), now.plus_seconds(6))
        .await
        .unwrap();
    assert!(
        matches!(placed.outcome, BidOutcome::Rejected(ref r) if r.reason == RejectReason::NotActive)
    );

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
    let now = EpochMillis::now();
    let a = AuctionId::generate();
    let b = AuctionId::generate();
    let c1 = connection("L0SM9cOFvHcCIhw=", Some("alice"), now);
    let c2 = connection("b/x+Y2==", Some("alice"), now);
    let c3 = connection("anon1234AAAA", None, now);
    for c in [&c1, &c2, &c3] {
        stack.connections.put(c).await.unwrap();
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
        stack.connections.join(&c1, &a, now).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(
        stack.connections.join(&c1, &a, now).await.unwrap(),
        JoinOutcome::AlreadyMember
    );
    assert_eq!(
        stack.connections.join(&c2, &a, now).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(
        stack.connections.join(&c3, &a, now).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(
        stack.connections.join(&c1, &b, now).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(stack.connections.viewer_count(&a, now).await.unwrap(), 3);
    assert_eq!(stack.connections.viewer_count(&b, now).await.unwrap(), 1);

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
        .connections
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
        stack
            .connections
            .leave(&c2.connection_id, &a)
            .await
            .unwrap(),
        LeaveOutcome::Left
    );
    assert_eq!(
        stack
            .connections
            .leave(&c2.connection_id, &a)
            .await
            .unwrap(),
        LeaveOutcome::NotMember
    );
    assert_eq!(stack.connections.viewer_count(&a, now).await.unwrap(), 2);

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
    assert_eq!(stack.connections.viewer_count(&a, now).await.unwrap(), 1);
    assert_eq!(stack.connections.viewer_count(&b, now).await.unwrap(), 0);
    assert!(matches!(
        stack.connections.join(&c1, &a, now).await,
        Err(JoinError::ConnectionGone)
    ));
    assert_eq!(
        stack.connections.viewer_count(&a, now).await.unwrap(),
        1,
        "a failed join counts nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_members_over_four_shards_are_read_back_each_once() {
    let stack = stack_with_shards(4).await;
    let now = EpochMillis::now();
    let auction = AuctionId::generate();
    let ids: Vec<String> = (0..5000).map(|i| format!("conn{i:05}AbC=")).collect();
    futures::stream::iter(ids.clone())
        .for_each_concurrent(32, |id| {
            let store = Arc::clone(&stack.connections);
            let auction = auction.clone();
            async move {
                let c = connection(&id, Some(&format!("user-{id}")), now);
                store.put(&c).await.unwrap();
                assert_eq!(
                    store.join(&c, &auction, now).await.unwrap(),
                    JoinOutcome::Joined
                );
            }
        })
        .await;
    let started = Instant::now();
    let mut pages = 0;
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stream = stack.connections.members(&auction, now);
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
        stack.connections.viewer_count(&auction, now).await.unwrap(),
        5000
    );

    // The fan-out over the same group: pages of 1,000 read ahead of the posts, each member
    // posted exactly once, every connection of the excepted user skipped.
    let posted = Arc::new(Recorder::default());
    let fanout = shared::fanout::FanOut::new(
        Arc::clone(&stack.connections) as Arc<dyn ConnectionStore>,
        Arc::clone(&posted) as Arc<dyn shared::push::Pusher>,
        64,
    );
    let audience = shared::fanout::Audience::Group {
        auction_id: auction.clone(),
        except_user: Some("user-conn00042AbC=".into()),
    };
    let report = fanout.send("Test", &audience, "{}", now).await.unwrap();
    assert_eq!((report.recipients, report.delivered), (4999, 4999));
    let posted = posted.0.lock().unwrap();
    let unique: HashSet<&String> = posted.iter().collect();
    assert_eq!((posted.len(), unique.len()), (4999, 4999), "each once");
    assert!(
        !unique.contains(&"conn00042AbC=".to_owned()),
        "buyer skipped"
    );
}

/// Records the connections posted to (the push port only; the store is the real engine).
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl shared::push::Pusher for Recorder {
    async fn post(
        &self,
        connection_id: &str,
        _payload: &str,
    ) -> Result<(), shared::push::PushError> {
        self.0.lock().unwrap().push(connection_id.to_owned());
        Ok(())
    }
}

#[tokio::test]
async fn expired_connection_rows_are_not_returned() {
    let stack = stack().await;
    let now = EpochMillis::now();
    let auction = AuctionId::generate();
    let old = connection("oldConnAAAA=", Some("bob"), now.plus_seconds(-3 * 3600));
    let fresh = connection("newConnAAAA=", Some("bob"), now);
    stack.connections.put(&old).await.unwrap();
    stack.connections.put(&fresh).await.unwrap();
    assert_eq!(
        stack
            .connections
            .get(&old.connection_id, now)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        stack.connections.join(&old, &auction, now).await,
        Err(JoinError::ConnectionGone)
    ));
    assert_eq!(
        stack.connections.join(&fresh, &auction, now).await.unwrap(),
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
        .connections
        .members(&auction, later)
        .collect::<Vec<_>>()
        .await;
    assert!(members.into_iter().all(|page| page.unwrap().is_empty()));
    assert_eq!(
        stack
            .connections
            .viewer_count(&auction, later)
            .await
            .unwrap(),
        0
    );
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
    let connections = DynamoConnections::new(stack.client.clone(), "no-such-table", 2);
    let c = connection("x", None, EpochMillis::now());
    assert!(matches!(
        connections.put(&c).await,
        Err(StoreError::TableMissing { .. })
    ));
    let first = connections
        .members(&AuctionId::generate(), EpochMillis::now())
        .next()
        .await;
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
    let now = EpochMillis::now();
    let auction = new_auction("public", 1, now);
    assert!(matches!(
        auctions.create(&auction).await,
        Err(CreateAuctionError::Store(StoreError::Throttled))
    ));
    assert!(matches!(
        auctions.place_bid(&bid(&auction, "u", 10_000), now).await,
        Err(PlaceBidError::Store(StoreError::Throttled))
    ));
    let connections = DynamoConnections::new(client, "connections", 1);
    assert!(matches!(
        connections.viewer_count(&auction.id, now).await,
        Err(StoreError::Throttled)
    ));
    assert!(StoreError::Throttled.is_retryable());
}
