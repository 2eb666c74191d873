//! The WebSocket API's `$connect`: records the connection with the identity from the authorizer.
//! Wiring only: the handler is [`auction_app::ws::Route::Connect`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_ws_route(auction_app::ws::Route::Connect).await
}
