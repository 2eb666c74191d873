//! WebSocket messages as the routes read them: a JSON object or nothing, and a Join/Leave's
//! auction id or the reason it has none.
#![no_main]

use auction_core::frames::{auction_id_of, message_object};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let body = message_object(text);
    match auction_id_of(body.as_ref()) {
        Ok(id) => {
            let named = body
                .as_ref()
                .and_then(|b| b.get("auctionId"))
                .and_then(|v| v.as_str());
            assert_eq!(named, Some(id.to_string().as_str()));
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
});
