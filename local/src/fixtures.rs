//! What the events in `tests/events/` refer to: one long-running auction with a fixed id, so
//! that `cargo lambda invoke <function> --data-file tests/events/<file>.json` against the local
//! store gives a real answer (a join that joins, a bid that wins), and the environment the
//! functions need to reach this stack when `cargo lambda watch` runs them.

use auction_core::domain::{Auction, AuctionId, CreateAuctionRequest, EpochMillis};
use auction_core::ports::{AuctionStore, CreateAuctionError};

/// The auction every event in `tests/events/` names.
pub const FIXTURE_AUCTION_ID: &str = "6f1c4f4e-2a55-4c39-9e55-0d6b1e9a7c01";
/// Its tenant (the tokens and authorizer contexts of the events carry it).
pub const FIXTURE_TENANT: &str = "acme";

/// EUR 1,000 falling by 1 a minute to 10, with 1,000 items: active for 16 hours after start.
fn fixture(now: EpochMillis) -> Result<Auction, String> {
    let request: CreateAuctionRequest = serde_json::from_value(serde_json::json!({
        "title": "Fixture auction (tests/events)",
        "currency": "EUR",
        "startPrice": 1000,
        "floorPrice": 10,
        "priceDrop": 1,
        "dropIntervalSeconds": 60,
        "totalItems": 1000
    }))
    .map_err(|e| e.to_string())?;
    let mut auction = request
        .validate(FIXTURE_TENANT, "fixture-seller", now)
        .map_err(|e| format!("{e:?}"))?;
    auction.id = AuctionId::parse(FIXTURE_AUCTION_ID).map_err(|e| format!("{e:?}"))?;
    Ok(auction)
}

/// Creates the fixture auction unless it exists (a persistent data directory keeps it).
pub async fn create(auctions: &dyn AuctionStore) {
    let auction = match fixture(crate::now()) {
        Ok(auction) => auction,
        Err(e) => {
            tracing::error!(error = %e, "the fixture auction is invalid");
            return;
        }
    };
    match auctions.create(&auction).await {
        Ok(()) | Err(CreateAuctionError::AlreadyExists) => {
            tracing::info!(auction_id = FIXTURE_AUCTION_ID, "fixture auction ready");
        }
        Err(e) => tracing::warn!(error = %e, "could not create the fixture auction"),
    }
}
