//! Started every minute by an EventBridge schedule: ticks once a second until shortly before
//! the invocation's deadline. Wiring only: the run is [`auction_app::ticker::TickerDeps::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_price_ticker().await
}
