//! The WebSocket API's `JoinAuction`: joins an auction group and sends the caller its snapshot.
//! Wiring only: the handler is [`auction_app::ws::Route::JoinAuction`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_ws_route(auction_app::ws::Route::JoinAuction).await
}
