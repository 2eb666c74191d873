//! `auction-local`'s control plane is locked as AWS's is (docs/local.md, "Security"): unsigned
//! Management API and `PutEvents` calls are refused and change nothing, requests addressed to
//! another host name are refused (DNS rebinding), and the server will not listen beyond this
//! machine unless told to.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{Client, LocalConfig, create_auction, start, token};

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_management_calls_are_refused_and_deliver_nothing() {
    let stack = start().await;
    let mut viewer = Client::connect(&stack, Some(&token("vera", "acme", &[]))).await;
    let ids = stack
        .adapters
        .connections
        .connections_of_user("acme", "vera", tests::now())
        .await
        .unwrap();
    let [id] = ids.as_slice() else {
        panic!("one connection: {ids:?}")
    };
    // Ids are base64-like (`/`, `+`, `=`): every other byte is percent-encoded, as callers do.
    let encoded: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let url = format!("{}/@connections/{encoded}", stack.http_url());
    let unsigned = http()
        .post(&url)
        .body(r#"{"forged":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    assert_eq!(unsigned.headers()["x-amzn-errortype"], "ForbiddenException");
    let body: Value = unsigned.json().await.unwrap();
    assert_eq!(body["message"], "Missing Authentication Token");
    let malformed = http()
        .post(&url)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=x, Signature=y",
        )
        .header("x-amz-date", "20260101T000000Z")
        .body(r#"{"forged":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::FORBIDDEN);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = http().request(method, &url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        viewer.next_any_within(Duration::from_millis(500)).await,
        None,
        "nothing forged was delivered, the socket is open"
    );
    // The functions' signed client still works.
    stack
        .management_client()
        .post_to_connection()
        .connection_id(id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
            r#"{"signed":true}"#,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.next_frame().await, json!({"signed": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_put_events_is_refused_and_reaches_no_viewer() {
    let stack = start().await;
    let auction = create_auction(&stack, "acme", 2).await;
    let mut viewer = Client::connect(&stack, Some(&token("vera", "acme", &[]))).await;
    viewer.join_and_state(auction.id.as_str()).await;
    let detail = json!({
        "tenantId": "acme", "auctionId": auction.id.as_str(), "reason": "SoldOut",
        "endedAtMs": 1, "remainingItems": 0
    });
    let forged = http()
        .post(stack.http_url())
        .header("x-amz-target", "AWSEvents.PutEvents")
        .header("content-type", "application/x-amz-json-1.1")
        .body(
            json!({"Entries": [{
                "EventBusName": local::EVENT_BUS, "Source": infra::bus::EVENT_SOURCE,
                "DetailType": "AuctionEnded", "Detail": detail.to_string()
            }]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let body: Value = forged.json().await.unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");
    let frames = viewer.drain_events(Duration::from_millis(700)).await;
    assert!(
        frames.iter().all(|f| f["type"] != "AuctionEnded"),
        "{frames:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_another_host_name_are_refused() {
    let stack = start().await;
    let port = stack.addr.port();
    let env = format!("{}/_local/function-env", stack.http_url());
    let rebound = http()
        .get(&env)
        .header("host", format!("attacker.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(!rebound.text().await.unwrap().contains("JWT_SECRET"));
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let ours = http().get(&env).header("host", host).send().await.unwrap();
        assert_eq!(ours.status(), StatusCode::OK);
    }
    let api = http()
        .get(format!("{}/api/auctions", stack.http_url()))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn it_listens_beyond_this_machine_only_when_told_to() {
    let refused = local::start(LocalConfig {
        host: "0.0.0.0".into(),
        port: 0,
        demo: false,
        ..LocalConfig::default()
    })
    .await;
    match refused {
        Err(e @ local::StartError::NotLoopback(_)) => {
            assert!(e.to_string().contains("--allow-remote"), "{e}");
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("started on 0.0.0.0 without allow_remote"),
    }
    let allowed = local::start(LocalConfig {
        host: "0.0.0.0".into(),
        port: 0,
        demo: false,
        allow_remote: true,
        ..LocalConfig::default()
    })
    .await
    .unwrap();
    // /_local/ still answers this machine (the caller here is on loopback).
    let url = format!("http://127.0.0.1:{}/_local/stats", allowed.addr.port());
    assert_eq!(
        http().get(url).send().await.unwrap().status(),
        StatusCode::OK
    );
}
