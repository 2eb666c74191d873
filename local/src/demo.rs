//! The demo auction: tenant `public`, active at once, 1 s drops, five items, about five minutes
//! long; when it ends a fresh one replaces it.

use std::sync::Arc;
use std::time::Duration;

use auction_aws::jwt::{AuthConfig, KeySource, sign_dev_token};
use auction_core::domain::{AuctionId, CreateAuctionRequest, PUBLIC_TENANT, Phase};
use auction_core::identity::Identity;
use auction_core::ports::AuctionStore;
use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;

/// The seller of demo auctions.
pub const DEMO_SELLER: &str = "demo-seller";

fn demo_request() -> CreateAuctionRequest {
    // 100.00 → 20.00 by 0.25 every second: 320 drops, five minutes and a bit.
    serde_json::from_value(json!({
        "title": "Demo: a crate of Dutch tulip bulbs",
        "currency": "EUR",
        "startPrice": 100,
        "floorPrice": 20,
        "priceDrop": 0.25,
        "dropIntervalSeconds": 1,
        "totalItems": 5,
    }))
    .unwrap_or_default()
}

/// Creates the demo auction (its winners' holds last `reservation_ttl_seconds`, the stack's
/// `--reservation-ttl-seconds`), announces its id, and replaces it whenever it has ended.
pub async fn keep_demo_auction(
    auctions: Arc<dyn AuctionStore>,
    announce: UnboundedSender<AuctionId>,
    reservation_ttl_seconds: u32,
) {
    let mut current: Option<AuctionId> = None;
    loop {
        let now = crate::now();
        let ended = match &current {
            None => true,
            Some(id) => match auctions.get(id).await {
                Ok(Some(auction)) => matches!(auction.phase_at(now), Phase::Ended(_)),
                Ok(None) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the demo auction");
                    false
                }
            },
        };
        if ended {
            match demo_request().validate_with_ttl(
                PUBLIC_TENANT,
                DEMO_SELLER,
                now,
                reservation_ttl_seconds,
            ) {
                Ok(auction) => match auctions.create(&auction).await {
                    Ok(()) => {
                        let _ = announce.send(auction.id.clone());
                        current = Some(auction.id);
                    }
                    Err(e) => tracing::warn!(error = %e, "could not create the demo auction"),
                },
                Err(errors) => tracing::error!(?errors, "the demo auction is invalid"),
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The demo page's files, and the compiled TypeScript client it is built on (`client/dist`,
/// committed and checked fresh by the test command), embedded so that viewing the page needs no
/// Node install.
mod assets {
    pub const INDEX_HTML: &str = include_str!("../demo/index.html");
    pub const DEMO_JS: &str = include_str!("../demo/demo.js");
    pub const DEMO_CSS: &str = include_str!("../demo/demo.css");
    pub const FAVICON_SVG: &str = include_str!("../demo/favicon.svg");
    /// `client/dist/*.js`: the same ES modules the npm package ships.
    pub const CLIENT: &[(&str, &str)] = &[
        ("index.js", include_str!("../../client/dist/index.js")),
        ("api.js", include_str!("../../client/dist/api.js")),
        ("client.js", include_str!("../../client/dist/client.js")),
        ("emitter.js", include_str!("../../client/dist/emitter.js")),
        ("liveness.js", include_str!("../../client/dist/liveness.js")),
        ("price.js", include_str!("../../client/dist/price.js")),
        ("protocol.js", include_str!("../../client/dist/protocol.js")),
        ("retry.js", include_str!("../../client/dist/retry.js")),
        ("socket.js", include_str!("../../client/dist/socket.js")),
        ("state.js", include_str!("../../client/dist/state.js")),
        ("view.js", include_str!("../../client/dist/view.js")),
    ];
}

/// How long a demo page's token lives; the page asks for a fresh one before it runs out.
pub const DEMO_TOKEN_TTL_SECONDS: i64 = 3600;

#[derive(Clone)]
struct DemoState {
    /// The local signing secret; `None` when the stack verifies against a JWKS (no tokens then).
    secret: Option<Arc<[u8]>>,
    tenant_claim: Arc<str>,
}

/// The demo page at `/`, its assets, the client modules at `/client/*.js`, and
/// `GET /_local/demo-token?sub=USER`: a development token of tenant `public` (no roles) so that
/// the page can buy. Local only, like the secret it signs with.
pub fn routes(auth: &AuthConfig) -> axum::Router {
    use axum::routing::get;
    let state = DemoState {
        secret: match &auth.keys {
            KeySource::Secret(secret) => Some(Arc::from(secret.as_slice())),
            KeySource::Jwks(_) => None,
        },
        tenant_claim: Arc::from(auth.tenant_claim.as_str()),
    };
    axum::Router::new()
        .route(
            "/",
            get(|| async { page("text/html; charset=utf-8", assets::INDEX_HTML) }),
        )
        .route(
            "/demo.js",
            get(|| async { page("text/javascript; charset=utf-8", assets::DEMO_JS) }),
        )
        .route(
            "/demo.css",
            get(|| async { page("text/css; charset=utf-8", assets::DEMO_CSS) }),
        )
        // Browsers ask for /favicon.ico whatever the page says; both get the SVG.
        .route(
            "/favicon.svg",
            get(|| async { page("image/svg+xml", assets::FAVICON_SVG) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { page("image/svg+xml", assets::FAVICON_SVG) }),
        )
        .route("/client/{file}", get(client_module))
        .route("/_local/demo-token", get(demo_token))
        .with_state(state)
}

fn page(content_type: &'static str, body: &'static str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (axum::http::header::CONTENT_TYPE, content_type),
            (axum::http::header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn client_module(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match assets::CLIENT.iter().find(|(name, _)| *name == file) {
        Some((_, body)) => page("text/javascript; charset=utf-8", body),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    sub: String,
}

async fn demo_token(
    axum::extract::State(state): axum::extract::State<DemoState>,
    axum::extract::Query(query): axum::extract::Query<TokenQuery>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let valid = !query.sub.is_empty()
        && query.sub.len() <= 64
        && query
            .sub
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "sub must be 1-64 letters, digits, '-' or '_'"})),
        )
            .into_response();
    }
    let Some(secret) = state.secret else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "demo tokens need the local signing secret"})),
        )
            .into_response();
    };
    let identity = Identity {
        user_id: Some(query.sub.clone()),
        tenant_id: PUBLIC_TENANT.to_owned(),
        roles: Vec::new(),
    };
    let expires_at = crate::now().plus_seconds(DEMO_TOKEN_TTL_SECONDS);
    match sign_dev_token(&secret, &state.tenant_claim, &identity, expires_at) {
        Ok(token) => axum::Json(json!({
            "token": token,
            "sub": query.sub,
            "tenant": PUBLIC_TENANT,
            "expiresAt": expires_at.to_rfc3339(),
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not sign a demo token");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
