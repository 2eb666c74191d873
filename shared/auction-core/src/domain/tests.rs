//! Aggregate-level tests: phases, the bid decision, snapshots and creation, at the boundaries.

use serde_json::json;

use super::*;

const NOW: EpochMillis = EpochMillis(1_800_000_000_000);

fn at(seconds: i64) -> EpochMillis {
    NOW.plus_seconds(seconds)
}

fn request(body: serde_json::Value) -> CreateAuctionRequest {
    serde_json::from_value(body).unwrap()
}

/// EUR 100.00 → 20.00 by 1.00 every second, 5 items, starting now.
fn auction() -> Auction {
    request(json!({
        "title": "Tulips", "currency": "EUR", "startPrice": 100, "floorPrice": 20.0,
        "priceDrop": 1, "dropIntervalSeconds": 1, "totalItems": 5
    }))
    .validate("public", "seller-1", NOW)
    .unwrap()
}

#[test]
fn phases_follow_the_clock_and_recorded_ends() {
    let mut a = auction();
    assert_eq!(a.phase_at(at(-1)), Phase::Scheduled);
    assert_eq!(a.phase_at(NOW), Phase::Active);
    assert_eq!(
        a.phase_at(at(80)),
        Phase::Active,
        "the floor is held for one interval"
    );
    assert_eq!(
        a.phase_at(at(81)),
        Phase::Ended(Ending {
            reason: EndReason::FloorReached,
            at: at(81)
        })
    );
    a.ending = Some(Ending {
        reason: EndReason::Cancelled,
        at: at(10),
    });
    assert_eq!(a.phase_at(at(20)).status(), AuctionStatus::Ended);
    assert_eq!(
        a.current_price(at(20)),
        Amount(9_000),
        "an ended auction keeps its last price"
    );
}

#[test]
fn the_bid_decision() {
    let mut a = auction();
    let accept = |price| BidDecision::Accept {
        winning_price: Amount(price),
    };
    let reject = |reason, price| BidDecision::Reject {
        reason,
        current_price: Amount(price),
    };

    assert_eq!(a.decide_bid(Amount(10_000), NOW), accept(10_000));
    assert_eq!(
        a.decide_bid(Amount(9_999), NOW),
        reject(RejectReason::PriceTooLow, 10_000)
    );
    // The buyer pays the current price, never its (higher) bid.
    assert_eq!(a.decide_bid(Amount(10_000), at(13)), accept(8_700));
    assert_eq!(a.decide_bid(Amount(8_700), at(13)), accept(8_700));
    assert_eq!(a.decide_bid(Amount(2_000), at(80)), accept(2_000));
    assert_eq!(
        a.decide_bid(Amount(10_000), at(-1)),
        reject(RejectReason::NotActive, 10_000)
    );
    assert_eq!(
        a.decide_bid(Amount(10_000), at(81)),
        reject(RejectReason::NotActive, 2_000)
    );

    // Every item left is held: still Active, and nothing can be bid on until a hold lapses.
    a.remaining_items = 0;
    a.held_items = 1;
    assert_eq!(a.phase_at(at(5)), Phase::Active);
    assert_eq!(
        a.decide_bid(Amount(10_000), at(5)),
        reject(RejectReason::AllReserved, 9_500)
    );
    // The schedule ran out with nothing available: sold out, at the schedule's end.
    assert_eq!(
        a.phase_at(at(100)),
        Phase::Ended(Ending {
            reason: EndReason::SoldOut,
            at: a.schedule.ends_at()
        })
    );
    // Nothing available and nothing held: sold out at once.
    a.held_items = 0;
    assert_eq!(
        a.decide_bid(Amount(10_000), at(5)),
        reject(RejectReason::SoldOut, 9_500)
    );
    a.remaining_items = 2;
    a.ending = Some(Ending {
        reason: EndReason::Cancelled,
        at: at(3),
    });
    assert_eq!(
        a.decide_bid(Amount(10_000), at(5)),
        reject(RejectReason::NotActive, 9_700)
    );
}

#[test]
fn the_snapshot_has_every_protocol_field_in_camel_case() {
    let a = auction();
    let snapshot = serde_json::to_value(a.snapshot(at(13), 12, PushCadence::default())).unwrap();
    let keys: Vec<&str> = snapshot
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "auctionId",
        "tenantId",
        "title",
        "status",
        "endReason",
        "currency",
        "currentPrice",
        "startPrice",
        "floorPrice",
        "priceDrop",
        "dropIntervalSeconds",
        "startsAt",
        "nextDropAt",
        "dropsRemaining",
        "totalItems",
        "remainingItems",
        "heldItems",
        "soldItems",
        "releasedItems",
        "activeViewers",
        "pushIntervalSeconds",
        "serverTime",
    ];
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys_sorted, expected);
    assert_eq!(snapshot["status"], "Active");
    assert_eq!(snapshot["endReason"], serde_json::Value::Null);
    assert_eq!(snapshot["currentPrice"], json!(87.0));
    assert_eq!(snapshot["dropsRemaining"], 67);
    assert_eq!(snapshot["nextDropAt"], json!(at(14).to_rfc3339()));
    assert_eq!(snapshot["activeViewers"], 12);

    let ended = serde_json::to_value(a.snapshot(at(100), 0, PushCadence::default())).unwrap();
    assert_eq!(ended["status"], "Ended");
    assert_eq!(ended["endReason"], "FloorReached");
    assert_eq!(ended["currentPrice"], json!(20.0));
    assert_eq!(ended["nextDropAt"], serde_json::Value::Null);
    assert_eq!(ended["dropsRemaining"], 0);
}

#[test]
fn a_valid_body_builds_an_auction_with_defaults() {
    let a = auction();
    assert_eq!(a.remaining_items, 5);
    assert_eq!(a.reservation_ttl_seconds, 600);
    assert_eq!(a.schedule.starts_at(), NOW);
    assert_eq!(a.currency.code(), "EUR");

    let later = request(json!({
        "title": "  Yen  ", "currency": "JPY", "startPrice": 1500, "floorPrice": 0,
        "priceDrop": 7, "dropIntervalSeconds": 2, "totalItems": 1,
        "startsAt": "2027-01-15T10:00:00+01:00", "reservationTtlSeconds": 30
    }))
    .validate("t1", "s1", NOW)
    .unwrap();
    assert_eq!(later.title, "Yen");
    assert_eq!(
        later.schedule.starts_at().to_rfc3339(),
        "2027-01-15T09:00:00.000Z"
    );
    assert_eq!(later.reservation_ttl_seconds, 30);
}

fn errors(body: serde_json::Value) -> Vec<(&'static str, String)> {
    request(body)
        .validate("public", "s", NOW)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}

fn fields(body: serde_json::Value) -> Vec<&'static str> {
    errors(body).into_iter().map(|(f, _)| f).collect()
}

#[test]
fn every_broken_rule_is_reported_by_field() {
    assert_eq!(
        fields(json!({})),
        ["title", "currency", "dropIntervalSeconds", "totalItems"],
        "amounts need a currency before they can be judged"
    );
    assert_eq!(
        fields(json!({"currency": "EUR"})),
        [
            "title",
            "startPrice",
            "floorPrice",
            "priceDrop",
            "dropIntervalSeconds",
            "totalItems"
        ]
    );
    let base = json!({
        "title": "x", "currency": "EUR", "startPrice": 100, "floorPrice": 20,
        "priceDrop": 1, "dropIntervalSeconds": 1, "totalItems": 5
    });
    let with = |key: &str, value: serde_json::Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    assert!(request(base.clone()).validate("p", "s", NOW).is_ok());
    assert_eq!(fields(with("title", json!(""))), ["title"]);
    assert_eq!(fields(with("title", json!("x".repeat(201)))), ["title"]);
    assert_eq!(fields(with("title", json!("\u{0}"))), ["title"]);
    assert_eq!(fields(with("title", json!("Tulips\nfor sale"))), ["title"]);
    assert!(
        request(with("title", json!("é".repeat(200))))
            .validate("p", "s", NOW)
            .is_ok()
    );
    assert_eq!(fields(with("currency", json!("XYZ"))), ["currency"]);
    assert_eq!(fields(with("startPrice", json!(-5))), ["startPrice"]);
    assert_eq!(fields(with("startPrice", json!(20))), ["startPrice"]);
    assert_eq!(fields(with("startPrice", json!(100.001))), ["startPrice"]);
    assert_eq!(fields(with("floorPrice", json!(-0.01))), ["floorPrice"]);
    assert_eq!(fields(with("priceDrop", json!(0))), ["priceDrop"]);
    assert_eq!(
        fields(with("dropIntervalSeconds", json!(0))),
        ["dropIntervalSeconds"]
    );
    assert_eq!(
        fields(with("dropIntervalSeconds", json!(1.5))),
        ["dropIntervalSeconds"]
    );
    assert_eq!(fields(with("totalItems", json!(0))), ["totalItems"]);
    assert_eq!(fields(with("totalItems", json!(-3))), ["totalItems"]);
    assert_eq!(fields(with("startsAt", json!("tomorrow"))), ["startsAt"]);
    assert_eq!(
        fields(with("startsAt", json!("2020-01-01T00:00:00Z"))),
        ["startsAt"]
    );
    assert_eq!(
        fields(with("startsAt", json!("9999-12-31T00:00:00Z"))),
        ["startsAt"]
    );
    assert!(
        request(with(
            "startsAt",
            json!(EpochMillis(NOW.0 + 300 * 86_400_000).to_rfc3339())
        ))
        .validate("p", "s", NOW)
        .is_ok()
    );
    // A double would round this start price to 100.00.
    let mut long_decimal = base.clone();
    long_decimal["startPrice"] = json!(0);
    let text = long_decimal
        .to_string()
        .replace("\"startPrice\":0", "\"startPrice\":99.999999999999999999");
    let body: CreateAuctionRequest = serde_json::from_str(&text).unwrap();
    let refused = body.validate("p", "s", NOW).unwrap_err();
    assert_eq!(refused[0].field, "startPrice");
    assert_eq!(
        fields(with("reservationTtlSeconds", json!(0))),
        ["reservationTtlSeconds"]
    );
    let jpy = with("currency", json!("JPY"));
    let mut fractional_yen = jpy.clone();
    fractional_yen["priceDrop"] = json!(0.5);
    assert_eq!(fields(fractional_yen), ["priceDrop"]);
    let message = &errors(with("startPrice", json!(100.001)))[0].1;
    assert!(
        message.contains("EUR allows at most 2 decimal places"),
        "{message}"
    );
}

#[test]
fn a_large_group_gets_the_long_cadence_with_hysteresis() {
    let cadence = PushCadence {
        price_update_seconds: 5,
        large_group_viewers: 1_000,
        large_group_seconds: 30,
        shard_posts_per_second: 625,
        worker_group_viewers: u64::MAX,
        worker_posts_per_second: 4_000,
    };
    assert!(!cadence.is_large(999, false));
    assert!(cadence.is_large(1_000, false));
    // Once large, a group stays large down to four fifths of the threshold.
    assert!(cadence.is_large(800, true));
    assert!(!cadence.is_large(799, true));
    assert_eq!(cadence.interval_seconds(1, false), 5);
    assert_eq!(cadence.interval_seconds(1, true), 30);
    // Drops slower than the interval set the pace.
    assert_eq!(cadence.interval_seconds(60, true), 60);
    assert_eq!(cadence.interval_seconds(10, false), 10);
    // Snapshots announce the long cadence from four fifths on: longer is the safe side.
    assert_eq!(cadence.push_interval_seconds(1, 799), 5);
    assert_eq!(cadence.push_interval_seconds(1, 800), 30);
    // A group larger than the shard's budget can push every 30 s is announced what the budget
    // allows: 100,000 posts at 625 a second, every 160 s.
    assert_eq!(cadence.budget_seconds(18_750), 30);
    assert_eq!(cadence.push_interval_seconds(1, 18_750), 30);
    assert_eq!(cadence.push_interval_seconds(1, 100_000), 160);
    // With fan-out workers, a group they post spends their pool's budget instead: 100,000
    // posts at 4,000 a second, every 30 s; 200,000 every 50 s.
    let workers = PushCadence {
        worker_group_viewers: 5_000,
        ..cadence
    };
    assert!(!workers.by_workers(4_999) && workers.by_workers(5_000));
    assert_eq!(workers.push_interval_seconds(1, 4_999), 30);
    assert_eq!(workers.push_interval_seconds(1, 100_000), 30);
    assert_eq!(workers.push_interval_seconds(1, 200_000), 50);
}
