//! Started by the notifier and the price ticker (Lambda's asynchronous invoke) with one part of a
//! large group's fan-out. Wiring only: the part is [`auction_app::fanout::FanOut::run_task`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auction_app::lambda::serve_fanout().await
}
