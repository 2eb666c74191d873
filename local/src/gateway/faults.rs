//! Fault injection (local only): `POST /_local/faults/websocket` `{"outage": true}` drops every
//! socket without a close frame (as a network cut does; `$disconnect` runs with 1006) and
//! answers upgrades with 503 until `{"outage": false}`; the HTTP API stays up, as in a partial
//! outage.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Gateway;

#[derive(serde::Deserialize)]
pub(super) struct OutageRequest {
    outage: bool,
}

pub(super) async fn set_outage(State(gateway): State<Arc<Gateway>>, body: Bytes) -> Response {
    let request: OutageRequest = match auction_app::http::json_object(&body) {
        Ok(request) => request,
        Err(e) => {
            let message = format!("the body must be {{\"outage\": true|false}}: {e}");
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    let cut = gateway.set_outage(request.outage);
    tracing::warn!(outage = request.outage, cut, "simulated WebSocket outage");
    axum::Json(json!({"outage": request.outage, "cut": cut})).into_response()
}
