//! Property tests of every parser a client reaches (proptest): money, ids, create bodies, and
//! the HTTP API and WebSocket routes end to end. For any input: no panic, no 5xx, and every
//! refusal is one of the documented errors, changing nothing.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::Duration;

use auction_core::domain::money::JsonDecimal;
use auction_core::domain::{AuctionId, BidId, CreateAuctionRequest, Currency, EpochMillis};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tests::{Client, LocalConfig, create_auction, start_with, token};

/// Text that looks like a number often, and like anything else sometimes.
fn numberish() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,20}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{1,3})?",
        "[0-9.eE+-]{0,12}",
        ".{0,12}",
    ]
}

proptest! {
    #![proptest_config(Config::with_cases(2_000))]

    /// An amount is accepted only when it is exact in the currency, and then it prints back as
    /// itself.
    #[test]
    fn money_is_exact_or_refused(text in numberish(), code in prop::sample::select(vec!["EUR", "JPY", "BHD"])) {
        let currency = Currency::from_code(code).unwrap();
        if let Ok(amount) = currency.parse_amount(&text) {
            prop_assert!(amount.minor_units() >= 0);
            let printed = serde_json::to_string(&currency.major(amount)).unwrap();
            prop_assert_eq!(currency.parse_amount(&printed), Ok(amount), "{} printed as {}", text, printed);
        }
        // Read from JSON text, the same answer as from the bare text.
        if let Ok(number) = serde_json::from_str::<JsonDecimal>(&text) {
            prop_assert_eq!(currency.parse_json_amount(&number), currency.parse_amount(number.as_str()));
        }
    }

    /// Ids have one spelling: the canonical one parses to itself, every other is refused.
    #[test]
    fn ids_are_canonical_uuids_only(bytes in any::<[u8; 16]>(), other in ".{0,40}") {
        let canonical = uuid::Uuid::from_bytes(bytes).hyphenated().to_string();
        prop_assert_eq!(AuctionId::parse(&canonical).unwrap().to_string(), canonical.clone());
        prop_assert_eq!(BidId::parse(&canonical).unwrap().as_str().to_owned(), canonical.clone());
        if let Ok(id) = AuctionId::parse(&other) {
            prop_assert_eq!(id.to_string(), other.clone());
        }
        let upper = canonical.to_uppercase();
        if upper != canonical {
            prop_assert!(AuctionId::parse(&upper).is_err());
        }
    }

    /// Any JSON object is either a valid auction or a list of named field errors.
    #[test]
    fn create_bodies_validate_or_name_their_fields(
        title in prop::option::of(".{0,3}|[a-z ]{1,30}"),
        currency in prop::option::of("EUR|JPY|XXX|eur|[A-Z]{3}"),
        start in prop::option::of(numberish()),
        floor in prop::option::of(numberish()),
        drop in prop::option::of(numberish()),
        interval in prop::option::of(-5_i64..100_000),
        items in prop::option::of(-5_i64..2_000_000),
    ) {
        let mut body = serde_json::Map::new();
        if let Some(t) = title { body.insert("title".into(), json!(t)); }
        if let Some(c) = currency { body.insert("currency".into(), json!(c)); }
        let mut text = Value::Object(body.clone()).to_string();
        for (key, value) in [("startPrice", start), ("floorPrice", floor), ("priceDrop", drop)] {
            // Numbers as written, so that long decimals reach the parser as text.
            if let Some(v) = value.filter(|v| serde_json::from_str::<serde_json::Number>(v).is_ok()) {
                text.insert_str(1, &format!("\"{key}\":{v},"));
            }
        }
        if let Some(i) = interval { text.insert_str(1, &format!("\"dropIntervalSeconds\":{i},")); }
        if let Some(i) = items { text.insert_str(1, &format!("\"totalItems\":{i},")); }
        let text = text.replace(",}", "}");
        let request: CreateAuctionRequest = serde_json::from_str(&text).unwrap();
        let fields: HashSet<&str> = [
            "title", "currency", "startPrice", "floorPrice", "priceDrop",
            "dropIntervalSeconds", "totalItems", "startsAt", "reservationTtlSeconds",
        ].into();
        match request.validate("t", "s", EpochMillis(1_800_000_000_000)) {
            Ok(auction) => {
                prop_assert!(auction.total_items >= 1);
                prop_assert!(auction.schedule.start_price() > auction.schedule.floor_price());
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert!(fields.contains(e.field), "{}", e.field);
                }
            }
        }
    }
}

/// Tokens: a valid development token verifies; any change to it, and any other text, is
/// refused as `Invalid`, never a panic, never another user or tenant.
#[test]
fn only_the_token_as_signed_verifies() {
    use auction_aws::jwt::{AuthConfig, AuthError, TokenVerifier};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let verifier = TokenVerifier::new(AuthConfig::local_development());
    let valid = token("alice", "acme", &["seller"]);
    let identity = runtime.block_on(verifier.verify(&valid)).unwrap();
    assert_eq!(identity.user_id.as_deref(), Some("alice"));
    let mut runner = TestRunner::new(Config::with_cases(2_000));
    let edits = (0..valid.len(), any::<u8>(), prop::bool::ANY, ".{0,300}");
    runner
        .run(&edits, |(at, byte, replace, other)| {
            let mut edited = valid.clone().into_bytes();
            if replace {
                edited[at] = byte;
            } else {
                edited.insert(at, byte);
            }
            for candidate in [String::from_utf8_lossy(&edited).into_owned(), other] {
                if candidate == valid {
                    continue;
                }
                match runtime.block_on(verifier.verify(&candidate)) {
                    Err(AuthError::Invalid(_)) => {}
                    // Base64url decoders ignore some trailing bits: such a twin is the same token.
                    Ok(twin) => prop_assert_eq!(&twin, &identity, "{}", candidate),
                    Err(other) => prop_assert!(false, "{candidate:?}: {other:?}"),
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Bodies and paths a client may send to the HTTP API: never a 5xx, always a documented status,
/// every error a problem document, and no bid but a well-formed one takes an item.
#[test]
fn the_http_api_answers_any_bid_request_with_a_documented_status() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (stack, auction) = runtime.block_on(async {
        let stack = start_with(LocalConfig {
            bid_rate: auction_core::rate::RateLimit {
                max_calls: 100_000,
                window_seconds: 1,
            },
            ..LocalConfig::default()
        })
        .await;
        let auction = create_auction(&stack, "acme", 1_000).await;
        (stack, auction)
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let alice = token("alice", "acme", &[]);
    let url = format!("{}/api/auctions/{}/bids", stack.http_url(), auction.id);
    let body = prop_oneof![
        ".{0,60}",
        numberish().prop_map(|n| format!("{{\"bidPrice\": {n}}}")),
        (numberish(), ".{0,40}")
            .prop_map(|(n, id)| format!("{{\"bidPrice\": {n}, \"bidId\": {}}}", Value::String(id))),
        "\\[[0-9a-z, \"]{0,20}\\]",
    ];
    let mut runner = TestRunner::new(Config::with_cases(300));
    runner
        .run(&body, |body| {
            let (status, content_type) = runtime.block_on(async {
                let response = http
                    .post(&url)
                    .bearer_auth(&alice)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                (response.status().as_u16(), content_type)
            });
            prop_assert!(
                [200, 201, 400, 409, 422].contains(&status),
                "{} for {}",
                status,
                body
            );
            if status == 400 || status == 422 {
                prop_assert_eq!(content_type.as_str(), "application/problem+json");
            }
            Ok(())
        })
        .unwrap();
}

/// Text frames a client may send: the connection stays open and every answer is a documented
/// frame (an `Error` with a documented code, `Pong`, or `AuctionState`).
#[test]
fn the_websocket_routes_answer_any_text_frame_with_a_documented_frame() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (stack, auction) = runtime.block_on(async {
        let stack = start_with(LocalConfig {
            join_rate: auction_core::rate::RateLimit {
                max_calls: 100_000,
                window_seconds: 1,
            },
            ..LocalConfig::default()
        })
        .await;
        let auction = create_auction(&stack, "public", 1).await;
        (stack, auction)
    });
    // The runner's closure is `Fn`: the one client is taken out for each case and put back.
    let client = std::cell::Cell::new(Some(runtime.block_on(Client::connect(&stack, None))));
    let id = auction.id.to_string();
    let frame = prop_oneof![
        ".{0,80}",
        prop::sample::select(vec!["JoinAuction", "LeaveAuction", "Ping", "Dance", ""])
            .prop_flat_map(move |action| {
                let id = id.clone();
                prop_oneof![Just(id), ".{0,40}"].prop_map(move |auction_id| {
                    json!({"action": action, "auctionId": auction_id}).to_string()
                })
            }),
    ];
    let codes = [
        "BadRequest",
        "NotFound",
        "Unauthorized",
        "RateLimited",
        "UnknownAction",
    ];
    let mut runner = TestRunner::new(Config::with_cases(120));
    runner
        .run(&frame, |frame| {
            let mut taken = client.take().expect("the client is back after each case");
            let answers = runtime.block_on(async {
                let client = &mut taken;
                client.send_text(frame.clone()).await;
                // A successful Leave answers nothing, everything else one frame; one that comes
                // later than the wait is checked with the next case's.
                let mut answers = Vec::new();
                while let Some(answer) = client.next_any_within(Duration::from_millis(100)).await {
                    if !tests::is_periodic(&answer) {
                        answers.push(answer);
                    }
                }
                answers
            });
            client.set(Some(taken));
            for answer in answers {
                match answer["type"].as_str() {
                    Some("Pong" | "AuctionState") => {}
                    Some("Error") => {
                        let code = answer["data"]["code"].as_str().unwrap_or_default();
                        prop_assert!(codes.contains(&code), "{} for {}", answer, frame);
                    }
                    _ => prop_assert!(false, "{} for {}", answer, frame),
                }
            }
            Ok(())
        })
        .unwrap();
    // Still the same, working connection.
    let mut client = client.into_inner().expect("the client");
    runtime.block_on(async {
        client.send(json!({"action": "Ping"})).await;
        assert_eq!(client.next_of("Pong").await["type"], "Pong");
    });
}
