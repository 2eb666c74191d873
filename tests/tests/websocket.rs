//! The real-time core end to end: `auction-local` on a free port, real WebSocket clients, the
//! real Management API client (docs/protocol.md sections 2–4 and 7).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use auction_core::domain::AuctionId;
use futures::SinkExt;
use serde_json::json;
use tests::{
    Client, LocalConfig, create_auction, eventually, handshake_status, start, start_with, token,
    token_expiring,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn viewers(stack: &tests::Running, auction: &AuctionId) -> u64 {
    stack
        .adapters
        .groups
        .viewer_count(auction, tests::now())
        .await
        .unwrap()
}

async fn connection_ids_of(stack: &tests::Running, tenant: &str, user: &str) -> Vec<String> {
    stack
        .adapters
        .connections
        .connections_of_user(tenant, user, tests::now())
        .await
        .unwrap()
}

/// Waits until `$disconnect` removed every connection of `user` (tenant `acme`) and the
/// auction's count fell to `remaining`.
async fn disconnected(stack: &tests::Running, auction: &AuctionId, user: &str, remaining: u64) {
    eventually("$disconnect ran", || async {
        connection_ids_of(stack, "acme", user).await.is_empty()
    })
    .await;
    eventually("the count is corrected", || async {
        viewers(stack, auction).await == remaining
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_sends_the_snapshot_and_counts_each_connection_once() {
    let stack = start().await;
    let auction = create_auction(&stack, "acme", 5).await;
    let id = auction.id.to_string();
    let mut alice = Client::connect(&stack, Some(&token("alice", "acme", &[]))).await;
    let state = alice.join_and_state(&id).await;
    for field in [
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
    ] {
        assert!(
            state.get(field).is_some(),
            "AuctionState lacks {field}: {state}"
        );
    }
    assert_eq!(state["auctionId"], id);
    assert_eq!(state["status"], "Active");
    assert_eq!(state["currency"], "EUR");
    assert_eq!(state["remainingItems"], 5);
    assert_eq!(state["activeViewers"], 1);
    // The ticker's interval of the test stack, or the drops when they are slower.
    let interval = stack.adapters.cadence.price_update_seconds;
    assert_eq!(
        state["pushIntervalSeconds"],
        interval.max(auction.schedule.drop_interval_seconds())
    );

    let mut bob = Client::connect_with_header(&stack, &token("bob", "acme", &[])).await;
    assert_eq!(bob.join_and_state(&id).await["activeViewers"], 2);
    // A second join by the same connection does not count twice.
    assert_eq!(bob.join_and_state(&id).await["activeViewers"], 2);
    assert_eq!(viewers(&stack, &auction.id).await, 2);

    bob.send(json!({"action": "LeaveAuction", "auctionId": id}))
        .await;
    eventually("leave uncounts", || async {
        viewers(&stack, &auction.id).await == 1
    })
    .await;
    alice.socket.close(None).await.unwrap();
    eventually("disconnect uncounts", || async {
        viewers(&stack, &auction.id).await == 0
    })
    .await;
    eventually("the connection is gone", || async {
        connection_ids_of(&stack, "acme", "alice").await.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_kept_apart_and_bad_tokens_fail_the_handshake() {
    let stack = start().await;
    let acme = create_auction(&stack, "acme", 1).await;
    let public = create_auction(&stack, "public", 1).await;

    let mut mallory = Client::connect(&stack, Some(&token("mallory", "evil", &[]))).await;
    mallory.join(acme.id.as_str()).await;
    let error = mallory.next_frame().await;
    assert_eq!(error["type"], "Error");
    assert_eq!(error["data"]["code"], "Unauthorized");
    assert_eq!(error["data"]["action"], "JoinAuction");
    assert_eq!(error["data"]["auctionId"], acme.id.to_string());
    assert_eq!(viewers(&stack, &acme.id).await, 0, "not joined");

    let expired = token_expiring("alice", "acme", &[], tests::now().plus_seconds(-120));
    assert_eq!(
        handshake_status(&stack, &format!("?token={expired}")).await,
        Some(401)
    );
    assert_eq!(
        handshake_status(&stack, "?token=forged.token.value").await,
        Some(401)
    );
    let wrong_secret = auction_aws::jwt::sign_dev_token(
        b"not-the-local-secret",
        "tenant",
        &auction_core::identity::Identity {
            user_id: Some("alice".into()),
            tenant_id: "acme".into(),
            roles: vec![],
        },
        tests::now().plus_seconds(60),
    )
    .unwrap();
    assert_eq!(
        handshake_status(&stack, &format!("?token={wrong_secret}")).await,
        Some(401)
    );

    // Anonymous viewers belong to `public`.
    let mut anonymous = Client::connect(&stack, None).await;
    assert_eq!(
        anonymous.join_and_state(public.id.as_str()).await["activeViewers"],
        1
    );
    anonymous.join(acme.id.as_str()).await;
    assert_eq!(anonymous.next_frame().await["data"]["code"], "Unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_viewing_can_be_turned_off() {
    let mut config = LocalConfig::default();
    config.auth.anonymous_viewing = false;
    let stack = start_with(config).await;
    assert_eq!(handshake_status(&stack, "").await, Some(401));
    Client::connect(&stack, Some(&token("alice", "public", &[]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_the_right_error_and_the_connection_stays_open() {
    // Eleven messages on one connection: more than the default budget of ten per window.
    let mut config = LocalConfig::default();
    config.join_rate.max_calls = 100;
    let stack = start_with(config).await;
    let auction = create_auction(&stack, "public", 1).await;
    let mut client = Client::connect(&stack, None).await;
    let cases = [
        ("not json", "$default", "BadRequest"),
        ("[1,2]", "$default", "BadRequest"),
        (r#"{"auctionId": "x"}"#, "$default", "BadRequest"),
        (r#"{"action": "Dance"}"#, "Dance", "UnknownAction"),
        (r#"{"action": "JoinAuction"}"#, "JoinAuction", "BadRequest"),
        (
            r#"{"action": "JoinAuction", "auctionId": "not-a-uuid"}"#,
            "JoinAuction",
            "BadRequest",
        ),
        (
            r#"{"action": "JoinAuction", "auctionId": 42}"#,
            "JoinAuction",
            "BadRequest",
        ),
        (
            r#"{"action": "LeaveAuction", "auctionId": "nope"}"#,
            "LeaveAuction",
            "BadRequest",
        ),
    ];
    for (frame, action, code) in cases {
        client.send_text(frame).await;
        let error = client.next_frame().await;
        assert_eq!(error["type"], "Error", "{frame}");
        assert_eq!(error["data"]["code"], code, "{frame}");
        assert_eq!(error["data"]["action"], action, "{frame}");
        assert!(error["sentAt"].as_i64().is_some());
    }
    let unknown = AuctionId::generate();
    client.join(unknown.as_str()).await;
    let error = client.next_frame().await;
    assert_eq!(error["data"]["code"], "NotFound");
    assert_eq!(error["data"]["auctionId"], unknown.to_string());

    client.send(json!({"action": "Ping"})).await;
    let pong = client.next_frame().await;
    assert_eq!(pong["type"], "Pong");
    assert_eq!(pong["data"], json!({}));
    // Still the same, working connection.
    assert_eq!(
        client.join_and_state(auction.id.as_str()).await["activeViewers"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_leave_are_rate_limited_per_connection_without_state_change() {
    // The default budget (10 calls) in a window of a day, so the test never straddles two windows.
    let mut config = LocalConfig::default();
    config.join_rate.window_seconds = 86_400;
    let stack = start_with(config).await;
    let auction = create_auction(&stack, "public", 1).await;
    let mut client = Client::connect(&stack, None).await;
    let mut limited = 0;
    for i in 0..12 {
        if i % 2 == 0 {
            client.join(auction.id.as_str()).await;
        } else {
            client
                .send(json!({"action": "LeaveAuction", "auctionId": auction.id.to_string()}))
                .await;
        }
        if i % 2 == 0 {
            let frame = client.next_frame().await;
            if frame["type"] == "Error" {
                assert_eq!(frame["data"]["code"], "RateLimited");
                limited += 1;
            }
        }
    }
    // Twelve calls in one window (10 per window): the 11th (a join) is refused; the 12th (a leave)
    // is refused silently except for its Error frame.
    let leave_error = client.next_frame().await;
    assert_eq!(leave_error["data"]["code"], "RateLimited");
    assert_eq!(leave_error["data"]["action"], "LeaveAuction");
    assert_eq!(leave_error["data"]["auctionId"], auction.id.to_string());
    assert!(limited >= 1);
    // Past the budget, a Ping or an unknown action gets no answer at all: a flood costs at most
    // the budget's replies.
    client.send(json!({"action": "Ping"})).await;
    client.send(json!({"action": "Dance"})).await;
    assert_eq!(
        client.next_any_within(Duration::from_millis(500)).await,
        None
    );
    // The last accepted call was a leave (the 10th), and nothing after it changed state.
    assert_eq!(viewers(&stack, &auction.id).await, 0);
    // Another connection has its own budget.
    let mut other = Client::connect(&stack, None).await;
    assert_eq!(
        other.join_and_state(auction.id.as_str()).await["activeViewers"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leave_and_a_join_around_a_window_boundary_are_never_refused() {
    // Two calls per one-second window: a Leave then a Join fit in one window, or straddle two,
    // and either way neither is refused (each window counts its own calls from zero).
    let stack = start_with(LocalConfig {
        join_rate: auction_core::rate::RateLimit {
            max_calls: 2,
            window_seconds: 1,
        },
        ..LocalConfig::default()
    })
    .await;
    let auction = create_auction(&stack, "public", 1).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut client = Client::connect(&stack, None).await;
        client.join_and_state(auction.id.as_str()).await;
        clients.push(client);
    }
    for round in 0..3 {
        // Just before the next second: the pair straddles the boundary in most rounds.
        let to_boundary = 1000 - (tests::now().0 % 1000);
        tokio::time::sleep(Duration::from_millis(
            u64::try_from(to_boundary).unwrap() + 1000 - 15,
        ))
        .await;
        for client in &mut clients {
            client
                .send(json!({"action": "LeaveAuction", "auctionId": auction.id.to_string()}))
                .await;
            client.join(auction.id.as_str()).await;
        }
        for client in &mut clients {
            let frame = client.next_frame().await;
            assert_eq!(frame["type"], "AuctionState", "round {round}: {frame}");
            let others = client.drain_events(Duration::from_millis(50)).await;
            assert!(
                others.iter().all(|f| f["type"] != "Error"),
                "round {round}: {others:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_past_the_connection_cap_is_refused_with_429_until_one_closes() {
    let stack = start_with(LocalConfig {
        max_connections_per_user: 3,
        ..LocalConfig::default()
    })
    .await;
    let mallory = token("mallory", "acme", &[]);
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Client::connect(&stack, Some(&mallory)).await);
    }
    assert_eq!(
        handshake_status(&stack, &format!("?token={mallory}")).await,
        Some(429)
    );
    assert_eq!(connection_ids_of(&stack, "acme", "mallory").await.len(), 3);
    // Others are unaffected.
    Client::connect(&stack, Some(&token("oscar", "acme", &[]))).await;
    // One closes: `$disconnect` frees its place.
    drop(open.pop());
    eventually("the closed connection is disconnected", || async {
        connection_ids_of(&stack, "acme", "mallory").await.len() == 2
    })
    .await;
    Client::connect(&stack, Some(&mallory)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_binary_frames_close_the_connection() {
    let stack = start().await;
    let mut big = Client::connect(&stack, None).await;
    big.send_text("x".repeat(33 * 1024)).await;
    let frame = big.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009);

    let mut binary = Client::connect(&stack, None).await;
    binary
        .socket
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    let frame = binary.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1003);

    // A text frame that is not UTF-8 is closed with 1007 (RFC 6455 section 7.4.1), as API Gateway
    // does, not dropped without a word.
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, coding::Data, coding::OpCode};
    let mut garbled = Client::connect(&stack, None).await;
    let not_utf8: Vec<u8> = vec![b'{', 0xff, 0xfe, b'}'];
    garbled
        .socket
        .send(Message::Frame(Frame::message(
            not_utf8,
            OpCode::Data(Data::Text),
            true,
        )))
        .await
        .unwrap();
    let frame = garbled.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1007);

    // A frame just under the limit is fine (it is simply not a valid action).
    let mut fine = Client::connect(&stack, None).await;
    fine.send_text(format!(
        "{{\"action\":\"Ping\",\"pad\":\"{}\"}}",
        "x".repeat(31 * 1024)
    ))
    .await;
    assert_eq!(fine.next_frame().await["type"], "Pong");
    eventually("closed connections are unregistered", || async {
        stack.gateway.connection_count() == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_close_is_echoed_and_disconnects() {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let stack = start().await;
    let auction = create_auction(&stack, "acme", 1).await;
    let mut leaving = Client::connect(&stack, Some(&token("leaving", "acme", &[]))).await;
    leaving.join_and_state(auction.id.as_str()).await;
    leaving
        .socket
        .close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "tab closed".into(),
        }))
        .await
        .unwrap();
    // RFC 6455 section 5.5.1: the server answers with a close frame, echoing the code.
    let echo = leaving.closed().await.expect("the close frame is echoed");
    assert_eq!(u16::from(echo.code), 1001);
    disconnected(&stack, &auction.id, "leaving", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_vanishes_without_a_close_frame_is_disconnected() {
    let stack = start().await;
    let auction = create_auction(&stack, "acme", 1).await;
    let mut stays = Client::connect(&stack, Some(&token("stays", "acme", &[]))).await;
    stays.join_and_state(auction.id.as_str()).await;
    let mut vanishes = Client::connect(&stack, Some(&token("vanishes", "acme", &[]))).await;
    assert_eq!(
        vanishes.join_and_state(auction.id.as_str()).await["activeViewers"],
        2
    );
    // Drop the TCP socket without a close handshake.
    drop(vanishes);
    disconnected(&stack, &auction.id, "vanishes", 1).await;
    assert_eq!(connection_ids_of(&stack, "acme", "stays").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_disconnected() {
    let mut config = LocalConfig::default();
    config.limits.idle_timeout = Duration::from_millis(400);
    let stack = start_with(config).await;
    let mut client = Client::connect(&stack, Some(&token("idle", "public", &[]))).await;
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1001);
    eventually("$disconnect ran", || async {
        connection_ids_of(&stack, "public", "idle").await.is_empty()
    })
    .await;

    let mut config = LocalConfig::default();
    config.limits.max_connection_duration = Duration::from_millis(600);
    let stack = start_with(config).await;
    let mut busy = Client::connect(&stack, None).await;
    for _ in 0..3 {
        busy.send(json!({"action": "Ping"})).await;
        assert_eq!(busy.next_frame().await["type"], "Pong");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let frame = busy
        .closed()
        .await
        .expect("closed at the maximum lifetime, busy or not");
    assert_eq!(u16::from(frame.code), 1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_api_works_through_the_sdk_client() {
    let stack = start().await;
    let management = stack.management_client();
    let mut client = Client::connect(&stack, Some(&token("carol", "public", &["seller"]))).await;
    let ids = connection_ids_of(&stack, "public", "carol").await;
    let [id] = ids.as_slice() else {
        panic!("one connection: {ids:?}")
    };

    management
        .post_to_connection()
        .connection_id(id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
            r#"{"hello":"carol"}"#,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(client.next_frame().await, json!({"hello": "carol"}));

    let info = management
        .get_connection()
        .connection_id(id)
        .send()
        .await
        .unwrap();
    assert!(info.connected_at().is_some());
    assert!(info.last_active_at().is_some());
    assert_eq!(
        info.identity().and_then(|i| i.source_ip()),
        Some("127.0.0.1")
    );

    let oversized = management
        .post_to_connection()
        .connection_id(id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
            vec![b'x'; 129 * 1024],
        ))
        .send()
        .await
        .unwrap_err();
    assert!(
        oversized
            .as_service_error()
            .is_some_and(|e| e.is_payload_too_large_exception()),
        "{oversized:?}"
    );

    management
        .delete_connection()
        .connection_id(id)
        .send()
        .await
        .unwrap();
    assert!(client.closed().await.is_some(), "DELETE closes the socket");
    eventually("$disconnect ran", || async {
        connection_ids_of(&stack, "public", "carol")
            .await
            .is_empty()
    })
    .await;

    let gone = management
        .post_to_connection()
        .connection_id(id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new("late"))
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "{gone:?}"
    );
    let pusher = signed_pusher(&stack);
    use auction_core::ports::Pusher;
    assert!(matches!(
        pusher.post(id, "late").await,
        Err(auction_core::ports::PushError::Gone)
    ));
    // Ids with `=`, `+` and `/` survive the path.
    for odd in ["a+b/c=", "L0SM9cOFvHcCIhw=", "x/y/z"] {
        let error = management
            .get_connection()
            .connection_id(odd)
            .send()
            .await
            .unwrap_err();
        assert!(
            error
                .as_service_error()
                .is_some_and(|e| e.is_gone_exception()),
            "{odd}: {error:?}"
        );
    }
}

/// The functions' Management API pusher, pointed at the stack.
fn signed_pusher(stack: &local::Running) -> auction_aws::push::SignedPusher {
    let base = stack.http_url();
    auction_aws::push::SignedPusher::new(&local::local_sdk_config(&base), &base).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signed_pusher_delivers_and_classifies_failures() {
    use auction_core::ports::{PushError, Pusher};
    let stack = start().await;
    let mut client = Client::connect(&stack, Some(&token("dave", "public", &[]))).await;
    let ids = connection_ids_of(&stack, "public", "dave").await;
    let [id] = ids.as_slice() else {
        panic!("one connection: {ids:?}")
    };
    let pusher = signed_pusher(&stack);
    pusher.post(id, r#"{"hello":"dave"}"#).await.unwrap();
    assert_eq!(client.next_frame().await, json!({"hello": "dave"}));
    // 413 is final, not retried.
    let oversized = "x".repeat(129 * 1024);
    assert!(matches!(
        pusher.post(id, &oversized).await,
        Err(PushError::Failed(_))
    ));

    pusher.post(id, r#"{"still":"open"}"#).await.unwrap();
    assert_eq!(client.next_frame().await, json!({"still": "open"}));

    // A stack that is down: retryable, never "gone".
    let nowhere = auction_aws::push::SignedPusher::new(
        &local::local_sdk_config("http://127.0.0.1:9"),
        "http://127.0.0.1:9",
    )
    .unwrap();
    assert!(matches!(
        nowhere.post(id, "x").await,
        Err(PushError::Retryable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_reading_is_cut_and_posts_to_it_get_410() {
    use auction_core::ports::{PushError, Pusher};
    let mut config = LocalConfig::default();
    config.limits.stalled_reader_timeout = Duration::from_millis(200);
    let stack = start_with(config).await;
    // Connected, never read from: the kernel's buffers fill, then the gateway's write stalls.
    let _stalled = Client::connect(&stack, Some(&token("stalled", "public", &[]))).await;
    let mut reader = Client::connect(&stack, Some(&token("reader", "public", &[]))).await;
    let Ok([stalled_id]) =
        <[String; 1]>::try_from(connection_ids_of(&stack, "public", "stalled").await)
    else {
        panic!("one connection")
    };
    let Ok([reader_id]) =
        <[String; 1]>::try_from(connection_ids_of(&stack, "public", "reader").await)
    else {
        panic!("one connection")
    };
    let pusher = signed_pusher(&stack);
    let frame = format!(r#"{{"pad":"{}"}}"#, "x".repeat(120 * 1024));
    let mut delivered = 0;
    let outcome = loop {
        match pusher.post(&stalled_id, &frame).await {
            Ok(()) => delivered += 1,
            Err(e) => break e,
        }
        assert!(
            delivered < 2_000,
            "240 MB accepted for a reader that never reads"
        );
    };
    assert!(matches!(outcome, PushError::Gone), "{outcome:?}");
    assert!(delivered > 0, "the socket's buffers take some frames first");
    // Gone for good, and `$disconnect` ran; other connections are unaffected.
    assert!(matches!(
        pusher.post(&stalled_id, "{}").await,
        Err(PushError::Gone)
    ));
    eventually("$disconnect ran", || async {
        connection_ids_of(&stack, "public", "stalled")
            .await
            .is_empty()
    })
    .await;
    pusher
        .post(&reader_id, r#"{"still":"here"}"#)
        .await
        .unwrap();
    assert_eq!(reader.next_frame().await, json!({"still": "here"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_ids_with_special_characters_round_trip() {
    let stack = start().await;
    let management = stack.management_client();
    // Open connections until one id has a `+` or `/` (base64 of random bytes: quickly).
    let mut clients = Vec::new();
    for i in 0..64 {
        let user = format!("user{i}");
        clients.push(Client::connect(&stack, Some(&token(&user, "public", &[]))).await);
        let ids = connection_ids_of(&stack, "public", &user).await;
        let id = &ids[0];
        assert!(id.ends_with('='), "{id}");
        if id.contains('+') || id.contains('/') {
            management
                .post_to_connection()
                .connection_id(id)
                .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
                    r#"{"ok":true}"#,
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(clients[i].next_frame().await, json!({"ok": true}));
            // The functions' pusher encodes the id the same way.
            use auction_core::ports::Pusher;
            signed_pusher(&stack)
                .post(id, r#"{"ok":"signed"}"#)
                .await
                .unwrap();
            assert_eq!(clients[i].next_frame().await, json!({"ok": "signed"}));
            return;
        }
    }
    panic!("no connection id with + or / in 64 connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_outage_cuts_sockets_refuses_upgrades_and_ends() {
    let stack = start().await;
    let auction = create_auction(&stack, "public", 3).await;
    let mut viewer = Client::connect(&stack, None).await;
    viewer.join_and_state(&auction.id.to_string()).await;
    eventually("the viewer is counted", || async {
        viewers(&stack, &auction.id).await == 1
    })
    .await;

    let http = reqwest::Client::new();
    let fault = format!("{}/_local/faults/websocket", stack.http_url());
    let cut: serde_json::Value = http
        .post(&fault)
        .json(&json!({"outage": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cut, json!({"outage": true, "cut": 1}));
    // Cut like a network failure: no close frame, and `$disconnect` still runs.
    assert_eq!(viewer.closed().await, None);
    eventually("the cut viewer is uncounted", || async {
        viewers(&stack, &auction.id).await == 0
    })
    .await;
    assert_eq!(handshake_status(&stack, "").await, Some(503));
    // The HTTP API stays up: the polling fallback works during the outage.
    let snapshot = http
        .get(format!("{}/api/auctions/{}", stack.http_url(), auction.id))
        .send()
        .await
        .unwrap();
    assert_eq!(snapshot.status(), 200);

    http.post(&fault)
        .json(&json!({"outage": false}))
        .send()
        .await
        .unwrap();
    let mut back = Client::connect(&stack, None).await;
    back.join_and_state(&auction.id.to_string()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_and_its_client_modules_are_served() {
    let stack = start().await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", stack.http_url())).send();
    let page = get("/").await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/demo.js"));
    let demo = get("/demo.js").await.unwrap().text().await.unwrap();
    assert!(demo.contains("from \"/client/index.js\""));
    let module = get("/client/client.js").await.unwrap();
    assert_eq!(
        module.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(module.text().await.unwrap().contains("class AuctionClient"));
    assert_eq!(get("/client/nope.js").await.unwrap().status(), 404);
    for icon in ["/favicon.ico", "/favicon.svg"] {
        let served = get(icon).await.unwrap();
        assert_eq!(served.status(), 200, "{icon}");
        assert_eq!(served.headers()["content-type"], "image/svg+xml");
    }
    // Every module of the built client is served, so no import of the page can fail.
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../client/dist");
    for entry in std::fs::read_dir(&dist).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".js") && name != "react.js" {
            let served = get(&format!("/client/{name}")).await.unwrap();
            assert_eq!(served.status(), 200, "/client/{name}");
        }
    }

    let token: serde_json::Value = get("/_local/demo-token?sub=dana")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["tenant"], "public");
    // The token is a real one: it opens a socket as dana.
    let mut dana = Client::connect(&stack, token["token"].as_str()).await;
    let auction = create_auction(&stack, "public", 1).await;
    dana.join_and_state(&auction.id.to_string()).await;
    assert_eq!(connection_ids_of(&stack, "public", "dana").await.len(), 1);
    assert_eq!(
        get("/_local/demo-token?sub=a%20b").await.unwrap().status(),
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_can_travel_as_a_subprotocol_and_auction_v1_is_selected() {
    let stack = start().await;
    let auction = create_auction(&stack, "acme", 5).await;
    let id = auction.id.to_string();
    let bearer = format!("auction.v1, bearer.{}", token("alice", "acme", &[]));
    let (mut alice, selected) = Client::connect_with_protocols(&stack, &bearer).await;
    assert_eq!(selected.as_deref(), Some("auction.v1"));
    // The identity came from the subprotocol: alice of tenant acme may watch acme's auction.
    assert_eq!(alice.join_and_state(&id).await["auctionId"], id.as_str());

    // A forged token in the subprotocol fails the handshake like one in the URL.
    let mut request = stack.ws_url().into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "auction.v1, bearer.not-a-jwt".parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("a forged token must fail the handshake with 401: {other:?}"),
    }

    // Another subprotocol is not selected, and a client (a browser too) then fails the
    // handshake; an anonymous viewer offering only auction.v1 gets it.
    let mut request = stack.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "chat".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Protocol(e)) => {
            assert!(e.to_string().contains("subprotocol"), "{e}");
        }
        other => panic!("no subprotocol may be selected for `chat`: {other:?}"),
    }
    let (_, anonymous) = Client::connect_with_protocols(&stack, "auction.v1").await;
    assert_eq!(anonymous.as_deref(), Some("auction.v1"));
}
