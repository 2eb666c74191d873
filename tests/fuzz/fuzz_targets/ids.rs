//! Ids: only the canonical UUID spelling parses, and it parses to itself.
#![no_main]

use auction_core::domain::{AuctionId, BidId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(id) = AuctionId::parse(text) {
        assert_eq!(id.to_string(), text);
    }
    if let Ok(id) = BidId::parse(text) {
        assert_eq!(id.as_str(), text);
    }
});
