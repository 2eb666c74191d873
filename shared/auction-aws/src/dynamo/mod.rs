//! The DynamoDB adapters of the ports, through `aws-sdk-dynamodb`: one adapter per port, grouped
//! by the table they use.
//!
//! Item shapes are described in `infra::tables` and docs/data-model.md; the key attribute names
//! come from `infra::tables`, so the adapters, the table definitions and `template.yaml` cannot
//! disagree.

pub mod auctions_table;
pub mod connections_table;
mod errors;
pub mod item;
pub mod table;

pub use auctions_table::{
    DynamoAuctions, DynamoBids, DynamoOutbox, DynamoReservations, DynamoTickerLease,
};
pub use connections_table::{DynamoConnections, DynamoDepartures, DynamoGroups, DynamoRateLimits};
pub use errors::classify;

/// The most membership shards per auction: the viewer counters of all shards are read in one
/// `BatchGetItem`, which takes at most 100 keys.
pub const MAX_MEMBERSHIP_SHARDS: u32 = 100;

/// The most partitions of the live-auctions index: the ticker reads them all every second.
pub const MAX_LIVE_INDEX_SHARDS: u32 = 100;

/// The shard a connection's membership rows go to: FNV-1a of the connection id, so every writer
/// and reader agrees without coordination, and a flash crowd spreads evenly over the shards.
#[must_use]
pub fn shard_of(connection_id: &str, shards: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in connection_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    u32::try_from(hash % u64::from(shards.max(1))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::shard_of;

    #[test]
    fn shards_spread_connections_evenly() {
        let mut counts = [0_u32; 4];
        for i in 0..4000 {
            counts[shard_of(&format!("conn-{i}="), 4) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
        assert_eq!(shard_of("anything", 1), 0);
        assert_eq!(
            shard_of("L0SM9cOFvHcCIhw=", 4),
            shard_of("L0SM9cOFvHcCIhw=", 4)
        );
    }
}
