//! `POST /api/auctions` bodies: any bytes are refused by the JSON reader, or validate to an
//! auction, or name the fields that are wrong.
#![no_main]

use auction_core::domain::{CreateAuctionRequest, EpochMillis};
use libfuzzer_sys::fuzz_target;

const FIELDS: [&str; 9] = [
    "title",
    "currency",
    "startPrice",
    "floorPrice",
    "priceDrop",
    "dropIntervalSeconds",
    "totalItems",
    "startsAt",
    "reservationTtlSeconds",
];

fuzz_target!(|body: &[u8]| {
    let Ok(request) = serde_json::from_slice::<CreateAuctionRequest>(body) else {
        return;
    };
    match request.validate("tenant", "seller", EpochMillis(1_800_000_000_000)) {
        Ok(auction) => {
            assert!(auction.total_items >= 1);
            assert!(auction.schedule.start_price() > auction.schedule.floor_price());
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(FIELDS.contains(&e.field), "{}", e.field);
            }
        }
    }
});
