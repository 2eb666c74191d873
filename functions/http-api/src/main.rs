//! The HTTP API (auctions, bids, the polling fallback) behind API Gateway's HTTP API
//! (payload v2). Wiring only: the router is [`auction_app::http::router`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_http_api().await
}
