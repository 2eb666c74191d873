//! The WebSocket API's REQUEST authorizer on `$connect`: verifies the JWT (`?token=` or
//! `Authorization: Bearer`) and passes the identity on in the context.
//! Wiring only: the handler is [`auction_app::ws::authorize`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_authorizer().await
}
