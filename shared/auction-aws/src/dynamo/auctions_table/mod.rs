//! The adapters over the auctions table (durable, point-in-time recovery): auctions, bids, the
//! outbox and the ticker's lease, one adapter per port. Row shapes are in [`codec`].

pub mod codec;

mod auctions;
mod bids;
mod lease;
mod outbox;
mod reservations;

pub use auctions::DynamoAuctions;
pub use bids::DynamoBids;
pub use lease::DynamoTickerLease;
pub use outbox::DynamoOutbox;
pub use reservations::DynamoReservations;
