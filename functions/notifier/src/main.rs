//! The EventBridge rule's target: pushes bid outcomes, sales and ends to the right connections.
//! Wiring only: the handler is [`auction_app::notifier::Notifier::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_notifier().await
}
