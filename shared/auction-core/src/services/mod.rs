//! The use cases: what the product does, over the ports, with time from a [`crate::clock::Clock`].
//! Handlers turn an event into a call here and the answer into a response; the adapters behind
//! the ports make one atomic store operation per method.

pub mod announce;
pub mod bidding;
pub mod catalog;
pub mod checkout;
pub mod membership;

pub use bidding::{BidError, Bidding, BiddingDeps, PlaceBid};
pub use catalog::{CancelError, Catalog, CatalogLimits, CreateError, ReadError};
pub use checkout::{CHECKOUT_ROLE, Checkout, CheckoutError};
pub use membership::{ConnectError, Membership, MembershipError, MembershipLimits};
