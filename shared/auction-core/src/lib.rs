//! The auction core: the domain (money, the Dutch schedule, bids), the ports the outside world
//! is reached through, and the use cases over them. No AWS, no web framework, no async runtime:
//! the adapters are in `auction-aws`, the handlers and the composition in `auction-app`.

pub mod clock;
pub mod domain;
pub mod events;
pub mod frames;
pub mod identity;
pub mod ports;
pub mod rate;
pub mod services;
pub mod telemetry;
