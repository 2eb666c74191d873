//! The bidding use case (`auction_core::services::Bidding`) over the functions' own adapters
//! (`auction_app::compose`), against the embedded DynamoDB engine and the local bus of a running
//! `auction-local`, with a clock the test sets: what a storm, a replay, a late or a foreign bid
//! do, that a sale leaves its item held (`AllReserved` for the rest), and that a sold-out
//! auction costs no write.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use auction_app::compose::Adapters;
use auction_aws::jwt::{AuthConfig, TokenVerifier};
use auction_core::clock::{Clock, ManualClock};
use auction_core::domain::{
    Amount, Auction, AuctionId, BidId, BidOutcome, EndReason, PlacedBid, RejectReason,
};
use auction_core::identity::Identity;
use auction_core::rate::RateLimit;
use auction_core::services::{BidError, Bidding, PlaceBid};

/// A budget no test here reaches: the rate limit has its own tests.
const GENEROUS: RateLimit = RateLimit {
    max_calls: 100_000,
    window_seconds: 1,
};

fn bidding(stack: &tests::Running, clock: &Arc<ManualClock>) -> Arc<Bidding> {
    services(stack, clock).bidding
}

fn services(stack: &tests::Running, clock: &Arc<ManualClock>) -> auction_app::http::HttpDeps {
    Adapters {
        clock: Arc::clone(clock) as _,
        ..stack.adapters.clone()
    }
    .http(
        TokenVerifier::new(AuthConfig::local_development()),
        GENEROUS,
    )
}

fn user(name: &str, tenant: &str) -> Identity {
    Identity {
        user_id: Some(name.to_owned()),
        tenant_id: tenant.to_owned(),
        roles: Vec::new(),
    }
}

fn offer(auction: &Auction, bid_id: Option<BidId>, major: f64) -> PlaceBid {
    PlaceBid {
        auction_id: auction.id.clone(),
        bid_id,
        bid_price: serde_json::Number::from_f64(major).unwrap().into(),
    }
}

fn accepted(placed: &PlacedBid) -> bool {
    matches!(placed.outcome, BidOutcome::Accepted(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bid_storm_sells_exactly_the_stock_every_round() {
    let stack = tests::start().await;
    let clock = Arc::new(ManualClock::at(tests::now()));
    let bidding = bidding(&stack, &clock);
    const ROUNDS: usize = 10;
    const BIDDERS: usize = 200;
    const ITEMS: u32 = 10;
    let mut timings = Vec::new();
    for round in 0..ROUNDS {
        let auction = tests::create_auction_at(&stack, "public", ITEMS, clock.now()).await;
        let started = Instant::now();
        let bids = (0..BIDDERS).map(|i| {
            let bidding = Arc::clone(&bidding);
            let offer = offer(&auction, Some(BidId::generate()), 100.0);
            let caller = user(&format!("user-{i}"), "public");
            tokio::spawn(async move { bidding.place(&caller, offer).await })
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
        // Every item is held by its winner (unpaid): the rest are told so, not "sold out".
        for placed in results.iter().filter(|p| !accepted(p)) {
            let BidOutcome::Rejected(r) = &placed.outcome else {
                unreachable!()
            };
            assert_eq!(r.reason, RejectReason::AllReserved, "round {round}");
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
        // No sale ends the auction: its items are held, and a lapsing hold brings one back.
        assert!(
            results.iter().all(|p| p.ended.is_none()),
            "round {round}: no bid records an end"
        );
        let after = stack
            .adapters
            .auctions
            .get_latest(&auction.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.remaining_items, 0, "round {round}: never below zero");
        assert_eq!(after.held_items, ITEMS, "round {round}: every item held");
        assert!(after.all_reserved() && after.ending.is_none());
        for placed in results.iter().filter(|p| accepted(p)) {
            assert!(placed.tally.is_some_and(|t| t.remaining_items < ITEMS));
        }
    }
    timings.sort();
    println!(
        "bid storm: {ROUNDS} rounds of {BIDDERS} concurrent bids on {ITEMS} items; per round \
         median {:?}, max {:?}",
        timings[ROUNDS / 2],
        timings[ROUNDS - 1],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bid_id_sent_fifty_times_takes_one_item() {
    let stack = tests::start().await;
    let clock = Arc::new(ManualClock::at(tests::now()));
    let bidding = bidding(&stack, &clock);
    let auction = tests::create_auction_at(&stack, "public", 5, clock.now()).await;
    let bid_id = BidId::generate();
    let sends = (0..50).map(|_| {
        let bidding = Arc::clone(&bidding);
        let offer = offer(&auction, Some(bid_id.clone()), 100.0);
        tokio::spawn(async move { bidding.place(&user("user-1", "public"), offer).await })
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
    let remaining = || async {
        stack
            .adapters
            .auctions
            .get_latest(&auction.id)
            .await
            .unwrap()
            .unwrap()
            .remaining_items
    };
    assert_eq!(remaining().await, 4, "one item taken");

    // The same bidId with another price, or from another user, is not the same bid.
    let changed = offer(&auction, Some(bid_id.clone()), 99.99);
    assert!(matches!(
        bidding.place(&user("user-1", "public"), changed).await,
        Err(BidError::BidIdReused)
    ));
    let other_user = offer(&auction, Some(bid_id), 100.0);
    assert!(matches!(
        bidding.place(&user("user-2", "public"), other_user).await,
        Err(BidError::BidIdReused)
    ));
    assert_eq!(remaining().await, 4);
}

#[tokio::test]
async fn a_rejected_bid_replays_its_first_outcome_after_the_price_fell() {
    let stack = tests::start().await;
    let clock = Arc::new(ManualClock::at(tests::now()));
    let bidding = bidding(&stack, &clock);
    let auction = tests::create_auction_at(&stack, "public", 2, clock.now()).await;
    let bid_id = BidId::generate();
    let low = || offer(&auction, Some(bid_id.clone()), 50.0);
    let first = bidding.place(&user("u1", "public"), low()).await.unwrap();
    let BidOutcome::Rejected(rejection) = &first.outcome else {
        panic!("{first:?}")
    };
    assert_eq!(rejection.reason, RejectReason::PriceTooLow);
    assert_eq!(rejection.current_price, Amount(10_000));
    assert!(!first.replayed);
    // A minute later the price is below the bid, but the same bidId still gets its first outcome.
    clock.advance(std::time::Duration::from_secs(60));
    let again = bidding.place(&user("u1", "public"), low()).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.outcome, first.outcome);
}

#[tokio::test]
async fn the_winner_pays_the_current_price_not_its_bid() {
    let stack = tests::start().await;
    let clock = Arc::new(ManualClock::at(tests::now()));
    let bidding = bidding(&stack, &clock);
    let start = clock.now();
    let auction = tests::create_auction_at(&stack, "public", 2, start).await;
    clock.set(start.plus_seconds(13));
    let placed = bidding
        .place(&user("u", "public"), offer(&auction, None, 100.0))
        .await
        .unwrap();
    let BidOutcome::Accepted(win) = placed.outcome else {
        panic!()
    };
    assert_eq!(win.winning_price, Amount(8_700));
    assert_eq!(win.reservation.expires_at, start.plus_seconds(13 + 600));
    assert_eq!(placed.tally.map(|t| t.remaining_items), Some(1));
    assert_eq!(placed.tally.map(|t| t.sold_items), Some(1));
    assert_eq!(placed.ended, None);
}

#[tokio::test]
async fn a_sold_out_auction_is_rejected_without_any_write() {
    let stack = tests::start().await;
    let clock = Arc::new(ManualClock::at(tests::now()));
    let bidding = bidding(&stack, &clock);
    let now = clock.now();
    let auction = tests::create_auction_at(&stack, "public", 1, now).await;
    let placed = bidding
        .place(&user("winner", "public"), offer(&auction, None, 100.0))
        .await
        .unwrap();
    assert!(accepted(&placed));
    assert_eq!(placed.tally.map(|t| t.remaining_items), Some(0));
    assert_eq!(
        placed.ended, None,
        "the item is held, not yet sold for good"
    );
    let BidOutcome::Accepted(win) = &placed.outcome else {
        unreachable!()
    };
    // The auction row as stored, through the engine's own endpoint.
    let dynamo = infra::embedded::local_client(
        stack
            .function_env
            .lines()
            .find_map(|line| line.strip_prefix("AWS_ENDPOINT_URL_DYNAMODB="))
            .unwrap(),
    );
    let version = || async {
        dynamo
            .get_item()
            .table_name(local::AUCTIONS_TABLE)
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
            .unwrap()["version"]
            .as_n()
            .unwrap()
            .clone()
    };
    // The last item held (AllReserved), then paid for (SoldOut): a storm of late bids writes
    // nothing either way.
    let mut late_ids = Vec::new();
    for expected in [RejectReason::AllReserved, RejectReason::SoldOut] {
        if expected == RejectReason::SoldOut {
            // Paying for the last held item sells the auction out.
            services(&stack, &clock)
                .checkout
                .confirm(&user("winner", "public"), &win.reservation.reservation_id)
                .await
                .unwrap();
        }
        let before = version().await;
        for i in 0..20 {
            let bid_id = BidId::generate();
            let placed = bidding
                .place(
                    &user(&format!("late-{i}"), "public"),
                    offer(&auction, Some(bid_id.clone()), 100.0),
                )
                .await
                .unwrap();
            let BidOutcome::Rejected(r) = placed.outcome else {
                panic!("{placed:?}")
            };
            assert_eq!(r.reason, expected);
            late_ids.push(bid_id);
        }
        assert_eq!(version().await, before, "the auction row was not written");
    }
    for bid_id in &late_ids {
        assert_eq!(
            stack.adapters.bids.find(bid_id).await.unwrap(),
            None,
            "no bid record was written"
        );
    }
    let after = stack
        .adapters
        .auctions
        .get_latest(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.remaining_items, 0);
    assert_eq!(after.ending.map(|e| e.reason), Some(EndReason::SoldOut));
}

#[tokio::test]
async fn bids_respect_tenants_and_the_active_window() {
    let stack = tests::start().await;
    let clock = Arc::new(ManualClock::at(tests::now()));
    let bidding = bidding(&stack, &clock);
    let start = clock.now();
    let auction = tests::create_auction_at(&stack, "tenant-a", 3, start).await;
    assert!(matches!(
        bidding
            .place(&user("u", "tenant-b"), offer(&auction, None, 100.0))
            .await,
        Err(BidError::WrongTenant)
    ));
    let mut unknown = offer(&auction, None, 100.0);
    unknown.auction_id = AuctionId::generate();
    assert!(matches!(
        bidding.place(&user("u", "tenant-a"), unknown).await,
        Err(BidError::AuctionNotFound)
    ));
    assert!(matches!(
        bidding
            .place(&Identity::anonymous(), offer(&auction, None, 100.0))
            .await,
        Err(BidError::SignInRequired)
    ));
    assert!(matches!(
        bidding
            .place(&user("u", "tenant-a"), offer(&auction, None, 100.001))
            .await,
        Err(BidError::InvalidPrice(_))
    ));

    for (seconds, what) in [(-5, "before the start"), (81, "after the floor was held")] {
        clock.set(start.plus_seconds(seconds));
        let placed = bidding
            .place(&user("u", "tenant-a"), offer(&auction, None, 100.0))
            .await
            .unwrap();
        assert!(
            matches!(placed.outcome, BidOutcome::Rejected(ref r) if r.reason == RejectReason::NotActive),
            "{what}: {placed:?}"
        );
    }
    let after = stack
        .adapters
        .auctions
        .get_latest(&auction.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.remaining_items, 3);
}
