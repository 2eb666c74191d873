//! The auction domain: pure code, no I/O, time always passed in.

pub mod auction;
pub mod bid;
pub mod connection;
pub mod create;
pub mod epoch;
pub mod hold;
pub mod money;
pub mod schedule;

#[cfg(test)]
mod tests;

pub use auction::{
    Auction, AuctionId, AuctionSnapshot, AuctionStatus, EndReason, Ending, InvalidId, Phase,
    PushCadence,
};
pub use bid::{
    AcceptedBid, BidDecision, BidId, BidOutcome, BidRequest, PlacedBid, RejectReason, RejectedBid,
    Reservation,
};
pub use connection::{Connection, Member, PUBLIC_TENANT};
pub use create::{CreateAuctionRequest, FieldError};
pub use epoch::EpochMillis;
pub use money::{Amount, Currency, MoneyError};
pub use schedule::DutchSchedule;
