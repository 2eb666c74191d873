//! The adapters over the connections table (ephemeral, TTL on `expiresAt`), one per port:
//! connections, auction groups with their viewer counters, rate-limit windows, and departures.
//!
//! Rows (keys from `infra::tables`, docs/data-model.md):
//! - connection `CONN#id` / `META`: user, tenant, roles, `joined` (a map auction → shard), and
//!   `userKey` for the sparse `byUser` index (signed-in users only);
//! - membership `GROUP#auction#shard` / `CONN#id`: connection and user, for the fan-out;
//! - counter `GROUP#auction#shard` / `#COUNT`: `viewers` of that shard;
//! - rate window `RATE#subject` / `WINDOW#n`: `calls` in that window;
//! - departure `LEFT#USER#tenant#user` / `META`: when a user last lost a joined connection.

mod connections;
mod departures;
mod groups;
mod rate_limits;

pub use connections::DynamoConnections;
pub use departures::DynamoDepartures;
pub use groups::DynamoGroups;
pub use rate_limits::DynamoRateLimits;

use crate::dynamo::item::Item;
use crate::dynamo::table::Table;

/// A connection row's key.
fn connection_key(connection_id: &str) -> Item {
    Table::key(format!("CONN#{connection_id}"), "META")
}

/// `USER#tenant#user`: the `byUser` index key, and part of other per-user keys.
fn user_key(tenant_id: &str, user_id: &str) -> String {
    format!("USER#{tenant_id}#{user_id}")
}

/// Whether a row with an `expiresAt` is still live at `now`.
fn is_live(item: &Item, now: auction_core::domain::EpochMillis) -> bool {
    use crate::dynamo::item::ItemExt;
    item.opt_int::<i64>(infra::tables::EXPIRES_AT)
        .ok()
        .flatten()
        .is_some_and(|at| at > now.as_seconds())
}
