//! Bid bodies as the HTTP API reads them (`shared/auction-app/src/http/bids.rs`): a price read
//! from its text as written and an optional canonical `bidId`; never a panic.
#![no_main]

use auction_core::domain::money::JsonDecimal;
use auction_core::domain::{BidId, Currency};
use libfuzzer_sys::fuzz_target;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BidBody {
    bid_price: Option<JsonDecimal>,
    bid_id: Option<String>,
}

fuzz_target!(|body: &[u8]| {
    let Ok(bid) = serde_json::from_slice::<BidBody>(body) else {
        return;
    };
    if let Some(price) = &bid.bid_price {
        for code in ["EUR", "JPY"] {
            let currency = Currency::from_code(code).expect("a known currency");
            if let Ok(amount) = currency.parse_json_amount(price) {
                assert!(amount.minor_units() >= 0);
            }
        }
    }
    if let Some(id) = &bid.bid_id
        && let Ok(parsed) = BidId::parse(id)
    {
        assert_eq!(parsed.as_str(), id);
    }
});
