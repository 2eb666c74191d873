//! The machine-checked protocol: every frame the server really sends and every body it really
//! returns, in one end-to-end flow through `auction-local`, validated against `docs/asyncapi.yaml`
//! and `docs/openapi.yaml` (formats included), with the documented content type.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use auction_core::rate::RateLimit;
use serde_json::{Value, json};
use tests::{Client, LocalConfig, start_with, token};

fn document(name: &str) -> Value {
    let path = format!("{}/../docs/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Follows a local `$ref` (`#/a/b`) once.
fn deref<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => doc
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {pointer}")),
        None => value,
    }
}

/// Validates `instance` against `schema`, resolving `#/components/...` in `doc`.
fn check(doc: &Value, schema: &Value, instance: &Value, what: &str) {
    let root = json!({ "allOf": [schema], "components": doc["components"] });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the document:\n{}\n{instance:#}",
        errors.join("\n")
    );
}

struct AsyncApi(Value);

impl AsyncApi {
    /// Checks a server frame against the payload of the message named by its `type`.
    fn frame(&self, frame: &Value, seen: &mut BTreeSet<String>) {
        let kind = frame["type"].as_str().expect("a frame has a type");
        let message = deref(
            &self.0,
            self.0
                .pointer(&format!("/channels/auction/messages/{kind}"))
                .unwrap_or_else(|| panic!("{kind} is not a message of the channel")),
        );
        check(&self.0, &message["payload"], frame, kind);
        seen.insert(kind.to_owned());
    }
}

struct OpenApi(Value);

impl OpenApi {
    /// Checks a response against the operation's documented response for its status.
    async fn response(
        &self,
        path: &str,
        method: &str,
        request: impl Future<Output = reqwest::Result<reqwest::Response>>,
        seen: &mut BTreeSet<String>,
    ) -> (u16, Value) {
        let response = request.await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let retry_after = response.headers().get("retry-after").cloned();
        let body: Value = response.json().await.unwrap();
        let paths = &self.0["paths"];
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let documented = operation["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{method} {path} answered {status}, not documented: {body}"));
        let documented = deref(&self.0, documented);
        let content = documented["content"]
            .as_object()
            .expect("documented content");
        let (media, media_type) = content
            .iter()
            .find(|(media, _)| content_type.starts_with(media.as_str()))
            .unwrap_or_else(|| {
                panic!("{method} {path} {status}: content-type {content_type} is not documented")
            });
        check(
            &self.0,
            &media_type["schema"],
            &body,
            &format!("{method} {path} {status} ({media})"),
        );
        if let Some(headers) = documented["headers"].as_object() {
            for (name, header) in headers {
                if deref(&self.0, header)["required"] == true && name == "Retry-After" {
                    assert!(
                        retry_after.is_some(),
                        "{method} {path} {status} lacks Retry-After"
                    );
                }
            }
        }
        seen.insert(format!("{method} {path} {status}"));
        (status, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_frame_and_body_matches_the_asyncapi_and_openapi_documents() {
    let asyncapi = AsyncApi(document("asyncapi.yaml"));
    let openapi = OpenApi(document("openapi.yaml"));
    let stack = start_with(LocalConfig {
        price_update_interval_seconds: 1,
        viewer_count_interval_seconds: 1,
        bid_rate: RateLimit {
            max_calls: 4,
            window_seconds: 60,
        },
        ..LocalConfig::default()
    })
    .await;
    let base = stack.http_url();
    let http = reqwest::Client::new();
    let seller = token("sam", "public", &["seller"]);
    let mallory = token("mallory", "acme", &[]);
    let (bob, dave, erin) = (
        token("bob", "public", &[]),
        token("dave", "public", &[]),
        token("erin", "public", &[]),
    );
    let mut frames = BTreeSet::new();
    let mut bodies = BTreeSet::new();
    let auctions = "/api/auctions";
    let one = "/api/auctions/{auctionId}";
    let bids = "/api/auctions/{auctionId}/bids";

    // Create (201) and the create errors.
    let create = |body: Value, bearer: Option<&str>| {
        let mut request = http.post(format!("{base}/api/auctions")).json(&body);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let auction_body = json!({
        "title": "Tulips", "currency": "EUR", "startPrice": 100, "floorPrice": 20,
        "priceDrop": 0.5, "dropIntervalSeconds": 1, "totalItems": 2
    });
    let (_, created) = openapi
        .response(
            auctions,
            "post",
            create(auction_body.clone(), Some(&seller)),
            &mut bodies,
        )
        .await;
    let id = created["auctionId"].as_str().unwrap().to_owned();
    for (body, bearer) in [
        (json!({"title": ""}), Some(seller.as_str())),
        (auction_body.clone(), None),
        (auction_body.clone(), Some(bob.as_str())),
    ] {
        openapi
            .response(auctions, "post", create(body, bearer), &mut bodies)
            .await;
    }

    // Reads.
    let get = |url: String| http.get(url).send();
    openapi
        .response(
            auctions,
            "get",
            get(format!("{base}/api/auctions?status=Active")),
            &mut bodies,
        )
        .await;
    openapi
        .response(
            auctions,
            "get",
            get(format!("{base}/api/auctions?status=Nope")),
            &mut bodies,
        )
        .await;
    openapi
        .response(
            one,
            "get",
            get(format!("{base}/api/auctions/{id}")),
            &mut bodies,
        )
        .await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    openapi
        .response(
            one,
            "get",
            get(format!("{base}/api/auctions/{unknown}")),
            &mut bodies,
        )
        .await;
    openapi
        .response(
            one,
            "get",
            get(format!("{base}/api/auctions/not-a-uuid")),
            &mut bodies,
        )
        .await;
    let other_tenant = http
        .get(format!("{base}/api/auctions/{id}"))
        .bearer_auth(&mallory)
        .send();
    let (status, _) = openapi
        .response(one, "get", other_tenant, &mut bodies)
        .await;
    assert_eq!(status, 404, "another tenant's auction is not revealed");

    // A viewer and the buyer on WebSockets; the client messages, Ping and a bad frame.
    let mut viewer = Client::connect(&stack, None).await;
    let mut buyer = Client::connect(&stack, Some(&bob)).await;
    viewer
        .send(json!({"action": "JoinAuction", "auctionId": id}))
        .await;
    let state = viewer.next_of("AuctionState").await;
    asyncapi.frame(&state, &mut frames);
    buyer.join_and_state(&id).await;
    viewer.send(json!({"action": "Ping"})).await;
    asyncapi.frame(&viewer.next_of("Pong").await, &mut frames);
    viewer.send(json!({"action": "Dance"})).await;
    asyncapi.frame(&viewer.next_of("Error").await, &mut frames);
    viewer
        .send(json!({"action": "JoinAuction", "auctionId": unknown}))
        .await;
    asyncapi.frame(&viewer.next_of("Error").await, &mut frames);

    // The ticker's frames (1 s intervals here).
    asyncapi.frame(&viewer.next_of("PriceUpdated").await, &mut frames);
    asyncapi.frame(&viewer.next_of("ViewerCountUpdated").await, &mut frames);

    // Bids: accepted (201), replayed (200), reused id (422), too low (409), errors.
    let post_bid = |bearer: Option<&str>, auction: &str, body: Value| {
        let mut request = http
            .post(format!("{base}/api/auctions/{auction}/bids"))
            .json(&body);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let bid_id = "6b1f2a4e-9d7c-4e3b-8a5f-1c2d3e4f5a6b";
    let first = json!({"bidPrice": 100, "bidId": bid_id});
    let (status, won) = openapi
        .response(
            bids,
            "post",
            post_bid(Some(&bob), &id, first.clone()),
            &mut bodies,
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = openapi
        .response(bids, "post", post_bid(Some(&bob), &id, first), &mut bodies)
        .await;
    assert_eq!(status, 200);
    asyncapi.frame(&buyer.next_of("BidAccepted").await, &mut frames);
    asyncapi.frame(&viewer.next_of("ItemSold").await, &mut frames);
    let (status, _) = openapi
        .response(
            bids,
            "post",
            post_bid(Some(&bob), &id, json!({"bidPrice": 99, "bidId": bid_id})),
            &mut bodies,
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = openapi
        .response(
            bids,
            "post",
            post_bid(Some(&erin), &id, json!({"bidPrice": 1})),
            &mut bodies,
        )
        .await;
    assert_eq!(status, 409);
    for (bearer, auction, body) in [
        (Some(erin.as_str()), id.as_str(), json!({"bidPrice": -1})),
        (None, id.as_str(), json!({"bidPrice": 100})),
        (Some("not-a-token"), id.as_str(), json!({"bidPrice": 100})),
        (Some(erin.as_str()), unknown, json!({"bidPrice": 100})),
        (
            Some(mallory.as_str()),
            id.as_str(),
            json!({"bidPrice": 100}),
        ),
    ] {
        openapi
            .response(bids, "post", post_bid(bearer, auction, body), &mut bodies)
            .await;
    }
    // erin may bid 4 times a window (bad bodies and unknown auctions are refused before the limit
    // counts): keep bidding low until 429.
    let mut limited = false;
    for _ in 0..10 {
        let (status, _) = openapi
            .response(
                bids,
                "post",
                post_bid(Some(&erin), &id, json!({"bidPrice": 1})),
                &mut bodies,
            )
            .await;
        if status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "the per-user limit answers 429");

    // The last item is held by its winner: a late bid is rejected AllReserved. Both winners pay:
    // AuctionEnded SoldOut; then a late bid is rejected SoldOut.
    let mut rival = Client::connect(&stack, Some(&dave)).await;
    rival.join_and_state(&id).await;
    let (status, last) = openapi
        .response(
            bids,
            "post",
            post_bid(Some(&dave), &id, json!({"bidPrice": 100})),
            &mut bodies,
        )
        .await;
    assert_eq!(status, 201);
    asyncapi.frame(&rival.next_of("BidAccepted").await, &mut frames);
    let late = || post_bid(Some(&bob), &id, json!({"bidPrice": 100}));
    let (status, held) = openapi.response(bids, "post", late(), &mut bodies).await;
    assert_eq!(
        (status, held["reason"].as_str()),
        (409, Some("AllReserved"))
    );
    for (buyer, body) in [(&bob, &won), (&dave, &last)] {
        let hold = body["reservationId"].as_str().unwrap();
        let confirmed = http
            .post(format!("{base}/api/reservations/{hold}/confirm"))
            .bearer_auth(buyer)
            .send()
            .await
            .unwrap();
        assert_eq!(confirmed.status().as_u16(), 200);
    }
    let ended = viewer.next_of("AuctionEnded").await;
    assert_eq!(ended["data"]["reason"], "SoldOut");
    asyncapi.frame(&ended, &mut frames);
    let paid = buyer.next_of("ReservationConfirmed").await;
    assert_eq!(paid["data"]["reservationId"], won["reservationId"]);
    asyncapi.frame(&paid, &mut frames);
    // Another bidder (bob's per-second bid budget is spent by now).
    let (status, sold_out) = openapi
        .response(
            bids,
            "post",
            post_bid(Some(&dave), &id, json!({"bidPrice": 100})),
            &mut bodies,
        )
        .await;
    assert_eq!(
        (status, sold_out["reason"].as_str()),
        (409, Some("SoldOut"))
    );

    // Cancel: 200 on a live auction, 409 on an ended one, 403 for someone else.
    let cancel = |bearer: &str, auction: &str| {
        http.delete(format!("{base}/api/auctions/{auction}"))
            .bearer_auth(bearer)
            .send()
    };
    openapi
        .response(one, "delete", cancel(&seller, &id), &mut bodies)
        .await;
    let (_, second) = openapi
        .response(
            auctions,
            "post",
            create(auction_body.clone(), Some(&seller)),
            &mut bodies,
        )
        .await;
    let second = second["auctionId"].as_str().unwrap().to_owned();
    openapi
        .response(one, "delete", cancel(&bob, &second), &mut bodies)
        .await;
    viewer
        .send(json!({"action": "JoinAuction", "auctionId": second}))
        .await;
    asyncapi.frame(&viewer.next_of("AuctionState").await, &mut frames);
    openapi
        .response(one, "delete", cancel(&seller, &second), &mut bodies)
        .await;
    let ended = viewer.next_of("AuctionEnded").await;
    assert_eq!(ended["data"]["reason"], "Cancelled");
    asyncapi.frame(&ended, &mut frames);

    // Reservations: bob's hold is read (200; 403 for another user) and confirmed (200, and 200
    // again); an unknown one is 404, no token 401. A 1 s hold lapses: 409 Expired, then the
    // sweep's ReservationExpired to its buyer and ItemReleased to the group.
    let hold = won["reservationId"].as_str().unwrap().to_owned();
    let reservation = "/api/reservations/{reservationId}";
    let confirm = "/api/reservations/{reservationId}/confirm";
    let get_hold = |bearer: &str, hold: &str| {
        http.get(format!("{base}/api/reservations/{hold}"))
            .bearer_auth(bearer)
            .send()
    };
    let confirm_hold = |bearer: Option<&str>, hold: &str| {
        let mut request = http.post(format!("{base}/api/reservations/{hold}/confirm"));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    openapi
        .response(reservation, "get", get_hold(&bob, &hold), &mut bodies)
        .await;
    openapi
        .response(reservation, "get", get_hold(&erin, &hold), &mut bodies)
        .await;
    openapi
        .response(
            reservation,
            "get",
            get_hold(&bob, "no-such-hold"),
            &mut bodies,
        )
        .await;
    for bearer in [Some(bob.as_str()), Some(bob.as_str()), None] {
        openapi
            .response(confirm, "post", confirm_hold(bearer, &hold), &mut bodies)
            .await;
    }
    openapi
        .response(
            confirm,
            "post",
            confirm_hold(Some(&erin), &hold),
            &mut bodies,
        )
        .await;
    openapi
        .response(
            confirm,
            "post",
            confirm_hold(Some(&bob), "no-such-hold"),
            &mut bodies,
        )
        .await;
    let mut short_hold = auction_body.clone();
    short_hold["reservationTtlSeconds"] = json!(1);
    let (_, third) = openapi
        .response(
            auctions,
            "post",
            create(short_hold, Some(&seller)),
            &mut bodies,
        )
        .await;
    let third = third["auctionId"].as_str().unwrap().to_owned();
    viewer
        .send(json!({"action": "JoinAuction", "auctionId": third}))
        .await;
    asyncapi.frame(&viewer.next_of("AuctionState").await, &mut frames);
    let (status, lapsing) = openapi
        .response(
            bids,
            "post",
            post_bid(Some(&dave), &third, json!({"bidPrice": 100})),
            &mut bodies,
        )
        .await;
    assert_eq!(status, 201);
    let lapsing = lapsing["reservationId"].as_str().unwrap().to_owned();
    asyncapi.frame(&rival.next_of("ReservationExpired").await, &mut frames);
    asyncapi.frame(&viewer.next_of("ItemReleased").await, &mut frames);
    let (status, _) = openapi
        .response(
            confirm,
            "post",
            confirm_hold(Some(&dave), &lapsing),
            &mut bodies,
        )
        .await;
    assert_eq!(status, 409);

    // Every server message of the AsyncAPI document was seen and checked.
    let documented: BTreeSet<String> = asyncapi.0["operations"]
        .as_object()
        .unwrap()
        .values()
        .filter(|op| op["action"] == "receive" || op.get("reply").is_some())
        .flat_map(|op| {
            let refs = op
                .get("reply")
                .map_or(&op["messages"], |reply| &reply["messages"]);
            refs.as_array().unwrap().iter().map(|m| {
                m["$ref"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();
    assert_eq!(frames, documented, "server messages seen vs documented");
    let expected_statuses = [
        "post /api/auctions 201",
        "post /api/auctions 400",
        "post /api/auctions 401",
        "post /api/auctions 403",
        "get /api/auctions 200",
        "get /api/auctions 400",
        "get /api/auctions/{auctionId} 200",
        "get /api/auctions/{auctionId} 400",
        "get /api/auctions/{auctionId} 404",
        "post /api/auctions/{auctionId}/bids 200",
        "post /api/auctions/{auctionId}/bids 201",
        "post /api/auctions/{auctionId}/bids 400",
        "post /api/auctions/{auctionId}/bids 401",
        "post /api/auctions/{auctionId}/bids 403",
        "post /api/auctions/{auctionId}/bids 404",
        "post /api/auctions/{auctionId}/bids 409",
        "post /api/auctions/{auctionId}/bids 422",
        "post /api/auctions/{auctionId}/bids 429",
        "delete /api/auctions/{auctionId} 200",
        "delete /api/auctions/{auctionId} 403",
        "delete /api/auctions/{auctionId} 409",
        "get /api/reservations/{reservationId} 200",
        "get /api/reservations/{reservationId} 403",
        "get /api/reservations/{reservationId} 404",
        "post /api/reservations/{reservationId}/confirm 200",
        "post /api/reservations/{reservationId}/confirm 401",
        "post /api/reservations/{reservationId}/confirm 403",
        "post /api/reservations/{reservationId}/confirm 404",
        "post /api/reservations/{reservationId}/confirm 409",
    ];
    for status in expected_statuses {
        assert!(
            bodies.contains(status),
            "not exercised: {status}; seen {bodies:?}"
        );
    }
}
