//! The HTTP API end to end (docs/protocol.md section 5): real HTTP requests to `auction-local`, which
//! turns them into API Gateway payload-v2 events for the `http-api` function's router.

#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{LocalConfig, start, start_with, token, token_expiring};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn auction_body() -> Value {
    json!({
        "title": "Tulips", "currency": "EUR", "startPrice": 100, "floorPrice": 20,
        "priceDrop": 1, "dropIntervalSeconds": 1, "totalItems": 2
    })
}

async fn problem(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    for field in ["type", "title", "status", "detail", "code"] {
        assert!(body.get(field).is_some(), "problem lacks {field}: {body}");
    }
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_creates_and_cancels_and_everyone_of_the_tenant_reads() {
    let stack = start().await;
    let http = client();
    let base = stack.http_url();
    let seller = token("sam", "acme", &["seller"]);

    let created = http
        .post(format!("{base}/api/auctions"))
        .bearer_auth(&seller)
        .json(&auction_body())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let snapshot: Value = created.json().await.unwrap();
    assert_eq!(snapshot["tenantId"], "acme");
    assert_eq!(snapshot["status"], "Active");
    assert_eq!(snapshot["currentPrice"], json!(100.0));
    let id = snapshot["auctionId"].as_str().unwrap().to_owned();

    let viewer = token("vic", "acme", &[]);
    let got: Value = http
        .get(format!("{base}/api/auctions/{id}"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["auctionId"], id);
    let listed: Value = http
        .get(format!("{base}/api/auctions?status=Active"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // Other tenants and anonymous viewers (tenant public) do not see it.
    let outsider = token("olga", "other", &[]);
    problem(
        http.get(format!("{base}/api/auctions/{id}"))
            .bearer_auth(&outsider)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
    let anonymous: Value = http
        .get(format!("{base}/api/auctions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anonymous["items"], json!([]));

    // Only the seller who created it cancels it.
    let other_seller = token("sue", "acme", &["seller"]);
    problem(
        http.delete(format!("{base}/api/auctions/{id}"))
            .bearer_auth(&other_seller)
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "Forbidden",
    )
    .await;
    let cancelled = http
        .delete(format!("{base}/api/auctions/{id}"))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "Ended");
    assert_eq!(cancelled["endReason"], "Cancelled");
    problem(
        http.delete(format!("{base}/api/auctions/{id}"))
            .bearer_auth(&seller)
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "Conflict",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_hold_more_live_auctions_than_its_cap_nor_a_seller_create_without_bound() {
    let stack = start_with(LocalConfig {
        catalog: auction_core::services::CatalogLimits {
            max_live_auctions_per_tenant: 2,
            create_rate: auction_core::rate::RateLimit {
                max_calls: 4,
                window_seconds: 86_400,
            },
            ..auction_core::services::CatalogLimits::default()
        },
        ..LocalConfig::default()
    })
    .await;
    let http = client();
    let url = format!("{}/api/auctions", stack.http_url());
    let sam = token("sam", "acme", &["seller"]);
    let create = |bearer: String| {
        http.post(&url)
            .bearer_auth(bearer)
            .json(&auction_body())
            .send()
    };
    let first: Value = create(sam.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(
        create(sam.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    let full = problem(
        create(sam.clone()).await.unwrap(),
        StatusCode::CONFLICT,
        "TooManyLiveAuctions",
    )
    .await;
    assert!(full["detail"].as_str().unwrap().contains('2'), "{full}");
    // Another tenant has its own cap.
    let olga = token("olga", "other", &["seller"]);
    assert_eq!(create(olga).await.unwrap().status(), StatusCode::CREATED);
    // An end makes room.
    let cancelled = http
        .delete(format!("{url}/{}", first["auctionId"].as_str().unwrap()))
        .bearer_auth(&sam)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(
        create(sam.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    // Four attempts in the window (the refused one counts): the fifth is rate limited.
    let limited = create(sam.clone()).await.unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    problem(limited, StatusCode::TOO_MANY_REQUESTS, "RateLimited").await;
    let live = stack
        .adapters
        .auctions
        .list(
            "acme",
            auction_core::domain::AuctionStatus::Active,
            tests::now(),
        )
        .await
        .unwrap();
    assert_eq!(live.len(), 2, "nothing refused was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_needs_a_seller_and_a_valid_body() {
    let stack = start().await;
    let http = client();
    let url = format!("{}/api/auctions", stack.http_url());
    problem(
        http.post(&url).json(&auction_body()).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
    )
    .await;
    let buyer = token("bob", "acme", &[]);
    problem(
        http.post(&url)
            .bearer_auth(&buyer)
            .json(&auction_body())
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "Forbidden",
    )
    .await;
    let seller = token("sam", "acme", &["seller"]);
    let mut bad = auction_body();
    bad["startPrice"] = json!(-5);
    bad["currency"] = json!("EUR");
    let body = problem(
        http.post(&url)
            .bearer_auth(&seller)
            .json(&bad)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "BadRequest",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("startPrice"),
        "{body}"
    );
    problem(
        http.post(&url)
            .bearer_auth(&seller)
            .body("{not json")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "BadRequest",
    )
    .await;
    let expired = token_expiring("sam", "acme", &["seller"], tests::now().plus_seconds(-120));
    problem(
        http.post(&url)
            .bearer_auth(&expired)
            .json(&auction_body())
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
    )
    .await;
    let listed: Value = http
        .get(&url)
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bids_win_lose_replay_and_refuse_bad_input_without_changing_state() {
    let stack = start().await;
    let http = client();
    let base = stack.http_url();
    let seller = token("sam", "acme", &["seller"]);
    let created: Value = http
        .post(format!("{base}/api/auctions"))
        .bearer_auth(&seller)
        .json(&auction_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["auctionId"].as_str().unwrap().to_owned();
    let bids = format!("{base}/api/auctions/{id}/bids");
    let alice = token("alice", "acme", &[]);

    let bid_id = "6f1c2c8e-9f7a-4f7e-8a8e-1b2c3d4e5f60";
    let won = http
        .post(&bids)
        .bearer_auth(&alice)
        .json(&json!({"bidPrice": 100, "bidId": bid_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(won.status(), StatusCode::CREATED);
    let won: Value = won.json().await.unwrap();
    assert_eq!(won["status"], "Accepted");
    assert_eq!(won["bidId"], bid_id);
    assert!(won["winningPrice"].as_f64().unwrap() <= 100.0);
    assert!(won["reservationId"].is_string() && won["expiresAt"].is_string());

    let replay = http
        .post(&bids)
        .bearer_auth(&alice)
        .json(&json!({"bidPrice": 100, "bidId": bid_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(
        replay["reservationId"], won["reservationId"],
        "the same reservation"
    );
    problem(
        http.post(&bids)
            .bearer_auth(&alice)
            .json(&json!({"bidPrice": 99, "bidId": bid_id}))
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "BidIdReused",
    )
    .await;

    let low = http
        .post(&bids)
        .bearer_auth(&alice)
        .json(&json!({"bidPrice": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(low.status(), StatusCode::CONFLICT);
    let low: Value = low.json().await.unwrap();
    assert_eq!(low["status"], "Rejected");
    assert_eq!(low["reason"], "PriceTooLow");
    assert!(low["currentPrice"].as_f64().unwrap() > 1.0);

    // Bad input changes nothing.
    let outsider = token("olga", "other", &[]);
    problem(
        http.post(&bids)
            .bearer_auth(&outsider)
            .json(&json!({"bidPrice": 100}))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "Forbidden",
    )
    .await;
    problem(
        http.post(&bids)
            .json(&json!({"bidPrice": 100}))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
    )
    .await;
    for body in [
        json!({}),
        json!({"bidPrice": -1}),
        json!({"bidPrice": "100"}),
        json!({"bidPrice": 100.001}),
        json!({"bidPrice": 100, "bidId": "x"}),
    ] {
        problem(
            http.post(&bids)
                .bearer_auth(&alice)
                .json(&body)
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        )
        .await;
    }
    problem(
        http.post(format!("{base}/api/auctions/not-a-uuid/bids"))
            .bearer_auth(&alice)
            .json(&json!({"bidPrice": 100}))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "BadRequest",
    )
    .await;
    // Input edges: each is a documented problem and changes nothing.
    let raw = |path: String, body: &'static str| {
        http.post(path)
            .bearer_auth(&alice)
            .header("content-type", "application/json")
            .body(body)
    };
    for body in [
        // A double would round it to 100.00 and accept it; it has 18 decimals.
        r#"{"bidPrice": 99.999999999999999999}"#,
        // serde would fill a struct's fields from an array in order.
        "[100, null]",
        "[true]",
    ] {
        problem(
            raw(bids.clone(), body).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        )
        .await;
    }
    let upper = id.to_uppercase();
    for spelling in [
        format!("urn:uuid:{id}"),
        format!("{{{id}}}"),
        upper,
        id.replace('-', ""),
    ] {
        problem(
            raw(
                format!("{base}/api/auctions/{spelling}/bids"),
                r#"{"bidPrice": 100}"#,
            )
            .send()
            .await
            .unwrap(),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        )
        .await;
    }
    problem(
        raw(
            bids.clone(),
            r#"{"bidPrice": 100, "bidId": "6F1C2C8E-9F7A-4F7E-8A8E-1B2C3D4E5F61"}"#,
        )
        .send()
        .await
        .unwrap(),
        StatusCode::BAD_REQUEST,
        "BadRequest",
    )
    .await;
    let oversized = format!(r#"{{"bidPrice": 100, "pad": "{}"}}"#, "x".repeat(70 * 1024));
    problem(
        http.post(&bids)
            .bearer_auth(&alice)
            .body(oversized)
            .send()
            .await
            .unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "PayloadTooLarge",
    )
    .await;
    let wrong_method = http.put(&bids).bearer_auth(&alice).send().await.unwrap();
    assert!(wrong_method.headers().contains_key("allow"));
    problem(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
    )
    .await;
    problem(
        http.get(format!("{base}/api/nothing-here"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
    let bad_query = problem(
        http.get(format!("{base}/api/auctions?status=%FF"))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "BadRequest",
    )
    .await;
    assert!(
        !bad_query["detail"].as_str().unwrap().contains("::"),
        "no Rust type names: {bad_query}"
    );

    let unknown = auction_core::domain::AuctionId::generate();
    problem(
        http.post(format!("{base}/api/auctions/{unknown}/bids"))
            .bearer_auth(&alice)
            .json(&json!({"bidPrice": 100}))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;

    let after: Value = http
        .get(format!("{base}/api/auctions/{id}"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["remainingItems"], 1,
        "only the one winning bid took an item"
    );
}

/// Creates an auction of `acme` whose holds last `ttl` seconds and buys one item as `buyer`:
/// the reservation id.
async fn bought(stack: &tests::Running, http: &reqwest::Client, ttl: u32) -> (String, Value) {
    let base = stack.http_url();
    let mut body = auction_body();
    body["reservationTtlSeconds"] = json!(ttl);
    let created: Value = http
        .post(format!("{base}/api/auctions"))
        .bearer_auth(token("sam", "acme", &["seller"]))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["auctionId"].as_str().unwrap();
    let (status, won) = tests::bid(
        http,
        stack,
        Some(&token("bob", "acme", &[])),
        id,
        json!({"bidPrice": 100}),
    )
    .await;
    assert_eq!(status, 201, "{won}");
    (won["reservationId"].as_str().unwrap().to_owned(), won)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buyer_confirms_a_hold_once_and_nobody_else_can() {
    let stack = start().await;
    let http = client();
    let base = stack.http_url();
    let (reservation, won) = bought(&stack, &http, 600).await;
    let confirm = |token: Option<String>| {
        let mut request = http.post(format!("{base}/api/reservations/{reservation}/confirm"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    // Nobody but the buyer (or the tenant's checkout) confirms it, and a refusal changes nothing.
    problem(
        confirm(None).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
    )
    .await;
    problem(
        confirm(Some(token("mallory", "acme", &[]))).await.unwrap(),
        StatusCode::FORBIDDEN,
        "Forbidden",
    )
    .await;
    problem(
        confirm(Some(token("bob", "other", &[]))).await.unwrap(),
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
    let held: Value = http
        .get(format!("{base}/api/reservations/{reservation}"))
        .bearer_auth(token("bob", "acme", &[]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(held["state"], "Held", "{held}");
    assert_eq!(held["winningPrice"], won["winningPrice"]);
    assert_eq!(held["expiresAt"], won["expiresAt"]);

    let first = confirm(Some(token("bob", "acme", &[]))).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["state"], "Confirmed", "{first}");
    assert!(first["confirmedAt"].is_string());
    // A repeat, and the seller's checkout service, get the same answer.
    for caller in [
        token("bob", "acme", &[]),
        token("shop", "acme", &["checkout"]),
    ] {
        let again = confirm(Some(caller)).await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.json::<Value>().await.unwrap(), first);
    }
    problem(
        http.post(format!("{base}/api/reservations/no-such-hold/confirm"))
            .bearer_auth(token("bob", "acme", &[]))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_past_its_expiry_cannot_be_confirmed() {
    let stack = start().await;
    let http = client();
    let base = stack.http_url();
    let (reservation, _) = bought(&stack, &http, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    problem(
        http.post(format!("{base}/api/reservations/{reservation}/confirm"))
            .bearer_auth(token("bob", "acme", &[]))
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "Expired",
    )
    .await;
    let lapsed: Value = http
        .get(format!("{base}/api/reservations/{reservation}"))
        .bearer_auth(token("bob", "acme", &[]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lapsed["state"], "Expired", "{lapsed}");
}
