//! Amounts as text and as JSON numbers: exact in the currency or refused, never rounded, and an
//! accepted amount prints back as itself.
#![no_main]

use auction_core::domain::Currency;
use auction_core::domain::money::JsonDecimal;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    for code in ["EUR", "JPY", "BHD"] {
        let currency = Currency::from_code(code).expect("a known currency");
        if let Ok(amount) = currency.parse_amount(text) {
            assert!(amount.minor_units() >= 0, "{text:?} is negative");
            let printed = serde_json::to_string(&currency.major(amount)).expect("prints");
            assert_eq!(
                currency.parse_amount(&printed),
                Ok(amount),
                "{text:?} printed as {printed}"
            );
        }
        if let Ok(number) = serde_json::from_str::<JsonDecimal>(text) {
            assert_eq!(
                currency.parse_json_amount(&number),
                currency.parse_amount(number.as_str()),
                "{text:?}"
            );
        }
    }
});
