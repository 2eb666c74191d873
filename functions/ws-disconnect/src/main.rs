//! The WebSocket API's `$disconnect`: removes the connection, its memberships and their counts.
//! Wiring only: the handler is [`auction_app::ws::Route::Disconnect`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_ws_route(auction_app::ws::Route::Disconnect).await
}
