//! Fault injection (local only): `POST /_local/faults/websocket` `{"outage": true}` drops every
//! socket without a close frame (as a network cut does; `$disconnect` runs with 1006) and
//! answers upgrades with 503 until `{"outage": false}`; the HTTP API stays up, as in a partial
//! outage.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Gateway;

#[derive(serde::Deserialize)]
pub(super) struct OutageRequest {
    outage: bool,
}

pub(super) async fn set_outage(
    State(gateway): State<Arc<Gateway>>,
    axum::Json(request): axum::Json<OutageRequest>,
) -> Response {
    let cut = gateway.set_outage(request.outage);
    tracing::warn!(outage = request.outage, cut, "simulated WebSocket outage");
    axum::Json(json!({"outage": request.outage, "cut": cut})).into_response()
}
