//! Everything the functions share: the auction domain, the ports (small traits with documented
//! contracts) and their AWS adapters.

pub mod domain;
pub mod dynamo;
pub mod ports;
