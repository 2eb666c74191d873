//! Helpers for the end-to-end suites: `auction-local` started in the test process on a free port,
//! real WebSocket clients, tokens, and auctions arranged through the real store.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)] // test helpers fail the test by panicking

use std::time::Duration;

use auction_aws::jwt::{LOCAL_DEV_SECRET, sign_dev_token};
use auction_core::domain::{Auction, CreateAuctionRequest, EpochMillis};
use auction_core::identity::Identity;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod bench;

pub use local::{LocalConfig, Running};

/// How long a test waits for a frame it expects.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts `auction-local` on a free port with no demo auction.
pub async fn start() -> Running {
    start_with(LocalConfig::default()).await
}

/// Starts `auction-local` on a free port with no demo auction and `config`'s other settings.
pub async fn start_with(config: LocalConfig) -> Running {
    // The suites' reqwest clients are built without a default TLS provider: the product's is ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    local::start(LocalConfig {
        port: 0,
        demo: false,
        ..config
    })
    .await
    .expect("auction-local starts")
}

/// A development token for `user` of `tenant`.
pub fn token(user: &str, tenant: &str, roles: &[&str]) -> String {
    token_expiring(user, tenant, roles, now().plus_seconds(3600))
}

/// A development token that expires at `expires_at`.
pub fn token_expiring(user: &str, tenant: &str, roles: &[&str], expires_at: EpochMillis) -> String {
    let identity = Identity {
        user_id: Some(user.to_owned()),
        tenant_id: tenant.to_owned(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    };
    sign_dev_token(LOCAL_DEV_SECRET.as_bytes(), "tenant", &identity, expires_at).unwrap()
}

/// Creates an auction of `tenant` through the store: EUR 100 → 20 by 1 every second, starting now.
pub async fn create_auction(stack: &Running, tenant: &str, items: u32) -> Auction {
    create_auction_at(stack, tenant, items, now()).await
}

/// Creates an auction of `tenant` through the store: EUR 100 → 20 by 1 every second, starting
/// at `starts_at`.
pub async fn create_auction_at(
    stack: &Running,
    tenant: &str,
    items: u32,
    starts_at: EpochMillis,
) -> Auction {
    let auction = serde_json::from_value::<CreateAuctionRequest>(json!({
        "title": "Tulips", "currency": "EUR", "startPrice": 100, "floorPrice": 20,
        "priceDrop": 1, "dropIntervalSeconds": 1, "totalItems": items
    }))
    .unwrap()
    .validate(tenant, "seller-1", starts_at)
    .unwrap();
    stack.adapters.auctions.create(&auction).await.unwrap();
    auction
}

/// A WebSocket client.
pub struct Client {
    /// The socket.
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Why a handshake failed: the HTTP status.
pub async fn handshake_status(stack: &Running, query: &str) -> Option<u16> {
    match tokio_tungstenite::connect_async(format!("{}{query}", stack.ws_url())).await {
        Ok(_) => None,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Some(response.status().as_u16())
        }
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

impl Client {
    /// Connects with `?token=` (or anonymously with `None`).
    pub async fn connect(stack: &Running, token: Option<&str>) -> Self {
        let url = match token {
            Some(token) => format!("{}?token={token}", stack.ws_url()),
            None => stack.ws_url(),
        };
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("handshake succeeds");
        Self { socket }
    }

    /// Connects to a WebSocket URL (`ws://host:port/ws?token=...`) of a stack running elsewhere.
    pub async fn connect_url(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("handshake succeeds");
        Self { socket }
    }

    /// Connects with an `Authorization: Bearer` header.
    pub async fn connect_with_header(stack: &Running, token: &str) -> Self {
        let mut request = stack.ws_url().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("handshake succeeds");
        Self { socket }
    }

    /// Connects offering the subprotocols `protocols` (`Sec-WebSocket-Protocol`), as the
    /// TypeScript client does with `auction.v1, bearer.<token>`; returns the one the handshake
    /// selected too.
    pub async fn connect_with_protocols(
        stack: &Running,
        protocols: &str,
    ) -> (Self, Option<String>) {
        let mut request = stack.ws_url().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("handshake succeeds");
        let selected = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (Self { socket }, selected)
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.socket
            .send(Message::Text(text.into().into()))
            .await
            .unwrap();
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    /// Sends `JoinAuction`.
    pub async fn join(&mut self, auction_id: &str) {
        self.send(json!({"action": "JoinAuction", "auctionId": auction_id}))
            .await;
    }

    /// The next text frame as JSON, skipping pings but not the ticker's broadcasts.
    pub async fn next_any(&mut self) -> Value {
        self.next_any_within(FRAME_TIMEOUT)
            .await
            .expect("a frame arrives in time")
    }

    /// The next text frame within `wait`, or `None`.
    pub async fn next_any_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?
                .expect("the socket is open")
                .expect("the frame is valid");
            match message {
                Message::Text(text) => {
                    return Some(serde_json::from_str(text.as_str()).expect("frames are JSON"));
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame that is not one of the ticker's periodic broadcasts (`PriceUpdated`,
    /// `ViewerCountUpdated`), which may interleave with anything.
    pub async fn next_frame(&mut self) -> Value {
        loop {
            let frame = self.next_any().await;
            if !is_periodic(&frame) {
                return frame;
            }
        }
    }

    /// The next frame of `kind`, skipping others (e.g. broadcasts).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next_any().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Every frame that is not periodic arriving until `quiet` passes without one.
    pub async fn drain_events(&mut self, quiet: Duration) -> Vec<Value> {
        let mut frames = Vec::new();
        // Periodic frames do not count as noise: a 1 s cadence would never leave a quiet gap.
        let mut until = tokio::time::Instant::now() + quiet;
        while let Some(frame) = self
            .next_any_within(until.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            if !is_periodic(&frame) {
                frames.push(frame);
                until = tokio::time::Instant::now() + quiet;
            }
        }
        frames
    }

    /// Joins and returns the `AuctionState` frame's data.
    pub async fn join_and_state(&mut self, auction_id: &str) -> Value {
        self.join(auction_id).await;
        let frame = self.next_frame().await;
        assert_eq!(frame["type"], "AuctionState", "{frame}");
        frame["data"].clone()
    }

    /// Waits for the server to close the socket and returns the close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            let message = tokio::time::timeout(FRAME_TIMEOUT, self.socket.next())
                .await
                .expect("the server closes in time");
            match message {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// Whether a frame is one of the ticker's periodic broadcasts.
pub fn is_periodic(frame: &Value) -> bool {
    frame["type"] == "PriceUpdated" || frame["type"] == "ViewerCountUpdated"
}

/// POSTs a bid and returns the status and the JSON body.
pub async fn bid(
    http: &reqwest::Client,
    stack: &Running,
    token: Option<&str>,
    auction_id: &str,
    body: Value,
) -> (u16, Value) {
    let mut request = http
        .post(format!(
            "{}/api/auctions/{auction_id}/bids",
            stack.http_url()
        ))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// POSTs a reservation's confirmation (checkout) and returns the status and the JSON body.
pub async fn confirm(
    http: &reqwest::Client,
    stack: &Running,
    token: &str,
    reservation_id: &str,
) -> (u16, Value) {
    let response = http
        .post(format!(
            "{}/api/reservations/{reservation_id}/confirm",
            stack.http_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Waits until `check` holds, polling for up to five seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The wall clock, as the stack reads it.
pub fn now() -> auction_core::domain::EpochMillis {
    auction_core::clock::Clock::now(&auction_app::clock::SystemClock)
}

/// The value of the sample `series` (name and labels exactly as rendered), if present.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
}

/// `auction-local`'s `GET /metrics` (Prometheus text), checked for its status and content type.
///
/// # Panics
/// When the endpoint does not answer as documented.
pub async fn metrics_text(http: &reqwest::Client, stack: &Running) -> String {
    let response = http
        .get(format!("{}/metrics", stack.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}
