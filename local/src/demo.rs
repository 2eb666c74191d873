//! The demo auction: tenant `public`, active at once, 1 s drops, five items, about five minutes
//! long; when it ends a fresh one replaces it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::domain::{AuctionId, CreateAuctionRequest, EpochMillis, PUBLIC_TENANT, Phase};
use shared::ports::AuctionStore;
use tokio::sync::mpsc::UnboundedSender;

/// The seller of demo auctions.
pub const DEMO_SELLER: &str = "demo-seller";

fn demo_request() -> CreateAuctionRequest {
    // 100.00 → 20.00 by 0.25 every second: 320 drops, five minutes and a bit.
    serde_json::from_value(json!({
        "title": "Demo: a crate of Dutch tulip bulbs",
        "currency": "EUR",
        "startPrice": 100,
        "floorPrice": 20,
        "priceDrop": 0.25,
        "dropIntervalSeconds": 1,
        "totalItems": 5,
    }))
    .unwrap_or_default()
}

/// Creates the demo auction, announces its id, and replaces it whenever it has ended.
pub async fn keep_demo_auction(
    auctions: Arc<dyn AuctionStore>,
    announce: UnboundedSender<AuctionId>,
) {
    let mut current: Option<AuctionId> = None;
    loop {
        let now = EpochMillis::now();
        let ended = match &current {
            None => true,
            Some(id) => match auctions.get(id).await {
                Ok(Some(auction)) => matches!(auction.phase_at(now), Phase::Ended(_)),
                Ok(None) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the demo auction");
                    false
                }
            },
        };
        if ended {
            match demo_request().validate(PUBLIC_TENANT, DEMO_SELLER, now) {
                Ok(auction) => match auctions.create(&auction).await {
                    Ok(()) => {
                        let _ = announce.send(auction.id.clone());
                        current = Some(auction.id);
                    }
                    Err(e) => tracing::warn!(error = %e, "could not create the demo auction"),
                },
                Err(errors) => tracing::error!(?errors, "the demo auction is invalid"),
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
