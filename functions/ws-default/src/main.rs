//! The WebSocket API's `$default`: `Ping` gets `Pong`; anything else gets an `Error` frame.
//! Wiring only: the handler is [`auction_app::ws::Route::Default`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_ws_route(auction_app::ws::Route::Default).await
}
