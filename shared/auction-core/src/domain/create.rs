//! Validation of a new auction (docs/protocol.md section 5, "Create body").
//!
//! Every field is checked and every problem reported at once, so a form can show them together.

use serde::Deserialize;
use serde_json::Number;

use super::auction::{Auction, AuctionId};
use super::epoch::EpochMillis;
use super::money::{Amount, Currency, JsonDecimal, MoneyError};
use super::schedule::{DutchSchedule, ScheduleError};

/// The create body as sent; every field optional here so that a missing one is reported by name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAuctionRequest {
    /// 1–200 characters, no control characters.
    pub title: Option<String>,
    /// ISO 4217.
    pub currency: Option<String>,
    /// The first price.
    pub start_price: Option<JsonDecimal>,
    /// The lowest price, ≥ 0 and below the start.
    pub floor_price: Option<JsonDecimal>,
    /// The amount of one drop, > 0.
    pub price_drop: Option<JsonDecimal>,
    /// Seconds between drops, ≥ 1.
    pub drop_interval_seconds: Option<Number>,
    /// Items offered, ≥ 1.
    pub total_items: Option<Number>,
    /// RFC 3339, from a minute ago to a year ahead; default now.
    pub starts_at: Option<String>,
    /// Default 600.
    pub reservation_ttl_seconds: Option<Number>,
}

/// One broken rule, named by its JSON field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The camelCase field name.
    pub field: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

/// Limits of a new auction beyond the protocol's own rules.
pub mod limits {
    /// Longest title, in characters.
    pub const MAX_TITLE_CHARS: usize = 200;
    /// Most items in one auction.
    pub const MAX_TOTAL_ITEMS: u64 = 1_000_000;
    /// Longest drop interval: one day.
    pub const MAX_DROP_INTERVAL_SECONDS: u64 = 86_400;
    /// Longest reservation: one day.
    pub const MAX_RESERVATION_TTL_SECONDS: u64 = 86_400;
    /// The reservation when none is asked for.
    pub const DEFAULT_RESERVATION_TTL_SECONDS: u32 = 600;
    /// How far in the past `startsAt` may lie (clock skew between seller and server).
    pub const MAX_START_IN_PAST_SECONDS: i64 = 60;
    /// How far ahead `startsAt` may lie: a year.
    pub const MAX_START_AHEAD_SECONDS: i64 = 366 * 86_400;
}

impl CreateAuctionRequest {
    /// Validates the body and builds the auction, owned by `seller_id` of `tenant_id`, at `now`.
    ///
    /// # Errors
    /// Every [`FieldError`] found; nothing is built unless the whole body is valid.
    pub fn validate(
        &self,
        tenant_id: &str,
        seller_id: &str,
        now: EpochMillis,
    ) -> Result<Auction, Vec<FieldError>> {
        self.validate_with_ttl(
            tenant_id,
            seller_id,
            now,
            limits::DEFAULT_RESERVATION_TTL_SECONDS,
        )
    }

    /// [`Self::validate`], with `default_ttl_seconds` for a body without `reservationTtlSeconds`
    /// (the deployment's `ReservationTtlSeconds`).
    ///
    /// # Errors
    /// Every broken rule, at once.
    pub fn validate_with_ttl(
        &self,
        tenant_id: &str,
        seller_id: &str,
        now: EpochMillis,
        default_ttl_seconds: u32,
    ) -> Result<Auction, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &'static str, message: String| {
            errors.push(FieldError { field, message });
        };

        let title = match self.title.as_deref().map(str::trim) {
            None => {
                fail("title", "title is required".into());
                None
            }
            Some(t) if t.is_empty() || t.chars().count() > limits::MAX_TITLE_CHARS => {
                fail(
                    "title",
                    format!("title must be 1 to {} characters", limits::MAX_TITLE_CHARS),
                );
                None
            }
            Some(t) if t.chars().any(char::is_control) => {
                fail("title", "title must not contain control characters".into());
                None
            }
            Some(t) => Some(t.to_owned()),
        };

        let currency = match self.currency.as_deref() {
            None => {
                fail("currency", "currency is required".into());
                None
            }
            Some(code) => Currency::from_code(code)
                .map_err(|e| fail("currency", e.to_string()))
                .ok(),
        };

        let mut amount = |field: &'static str, value: &Option<JsonDecimal>| -> Option<Amount> {
            let currency = currency?;
            let Some(number) = value else {
                fail(field, format!("{field} is required"));
                return None;
            };
            currency
                .parse_json_amount(number)
                .map_err(|e| match e {
                    MoneyError::Negative => fail(field, format!("{field} must not be negative")),
                    other => fail(field, format!("{field}: {other}")),
                })
                .ok()
        };
        let start_price = amount("startPrice", &self.start_price);
        let floor_price = amount("floorPrice", &self.floor_price);
        let price_drop = amount("priceDrop", &self.price_drop);

        let mut whole = |field: &'static str,
                         value: &Option<Number>,
                         min: u64,
                         max: u64,
                         default: Option<u64>| {
            match value {
                None if default.is_some() => default,
                None => {
                    fail(field, format!("{field} is required"));
                    None
                }
                Some(n) => match n.as_u64().filter(|v| (min..=max).contains(v)) {
                    Some(v) => Some(v),
                    None => {
                        fail(
                            field,
                            format!("{field} must be a whole number from {min} to {max}"),
                        );
                        None
                    }
                },
            }
        };
        let drop_interval_seconds = whole(
            "dropIntervalSeconds",
            &self.drop_interval_seconds,
            1,
            limits::MAX_DROP_INTERVAL_SECONDS,
            None,
        );
        let total_items = whole(
            "totalItems",
            &self.total_items,
            1,
            limits::MAX_TOTAL_ITEMS,
            None,
        );
        let reservation_ttl_seconds = whole(
            "reservationTtlSeconds",
            &self.reservation_ttl_seconds,
            1,
            limits::MAX_RESERVATION_TTL_SECONDS,
            Some(u64::from(default_ttl_seconds)),
        );

        let starts_at = match self.starts_at.as_deref() {
            None => Some(now),
            Some(text) => match EpochMillis::parse_rfc3339(text) {
                Err(_) => {
                    fail("startsAt", "startsAt must be an RFC 3339 timestamp".into());
                    None
                }
                Ok(at) if at < now.plus_seconds(-limits::MAX_START_IN_PAST_SECONDS) => {
                    fail("startsAt", "startsAt must not be in the past".into());
                    None
                }
                Ok(at) if at > now.plus_seconds(limits::MAX_START_AHEAD_SECONDS) => {
                    fail("startsAt", "startsAt must be within a year from now".into());
                    None
                }
                Ok(at) => Some(at),
            },
        };

        let schedule = match (
            start_price,
            floor_price,
            price_drop,
            drop_interval_seconds,
            starts_at,
        ) {
            (Some(start), Some(floor), Some(drop), Some(interval), Some(starts_at)) => {
                let interval = u32::try_from(interval).unwrap_or(u32::MAX);
                DutchSchedule::new(start, floor, drop, interval, starts_at)
                    .map_err(|e| {
                        let field = match e {
                            ScheduleError::StartNotAboveFloor => "startPrice",
                            ScheduleError::NegativeFloor => "floorPrice",
                            ScheduleError::NonPositiveDrop => "priceDrop",
                            ScheduleError::IntervalTooShort => "dropIntervalSeconds",
                            ScheduleError::TooLong { .. } => "priceDrop",
                        };
                        fail(field, e.to_string());
                    })
                    .ok()
            }
            _ => None,
        };

        match (
            title,
            currency,
            schedule,
            total_items,
            reservation_ttl_seconds,
        ) {
            (Some(title), Some(currency), Some(schedule), Some(total), Some(ttl))
                if errors.is_empty() =>
            {
                let total_items = u32::try_from(total).unwrap_or(u32::MAX);
                Ok(Auction {
                    id: AuctionId::generate(),
                    tenant_id: tenant_id.to_owned(),
                    seller_id: seller_id.to_owned(),
                    title,
                    currency,
                    schedule,
                    total_items,
                    remaining_items: total_items,
                    held_items: 0,
                    released_items: 0,
                    reservation_ttl_seconds: u32::try_from(ttl).unwrap_or(u32::MAX),
                    ending: None,
                    created_at: now,
                })
            }
            _ => Err(errors),
        }
    }
}
