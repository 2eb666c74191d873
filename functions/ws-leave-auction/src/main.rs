//! The WebSocket API's `LeaveAuction`: leaves an auction group.
//! Wiring only: the handler is [`auction_app::ws::Route::LeaveAuction`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_ws_route(auction_app::ws::Route::LeaveAuction).await
}
