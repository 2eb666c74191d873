//! WebSocket connections and their group memberships, as the store keeps them.

use std::collections::BTreeMap;

use super::epoch::EpochMillis;

/// API Gateway closes any connection after two hours.
pub const MAX_CONNECTION_SECONDS: i64 = 2 * 60 * 60;

/// Rows outlive their connection by this much, so that a `$disconnect` arriving at the two-hour
/// mark still finds them. TTL deletion itself lags (up to days), so reads filter on expiry too.
pub const EXPIRY_MARGIN_SECONDS: i64 = 15 * 60;

/// The tenant of anonymous viewers.
pub const PUBLIC_TENANT: &str = "public";

/// A connected client: who it is (from the `$connect` authorizer) and which groups it joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// API Gateway's connection id (e.g. `L0SM9cOFvHcCIhw=`).
    pub connection_id: String,
    /// The user (`sub`), or `None` for an anonymous viewer.
    pub user_id: Option<String>,
    /// The tenant; `public` for anonymous viewers.
    pub tenant_id: String,
    /// Roles from the token (`seller`).
    pub roles: Vec<String>,
    /// When the connection opened.
    pub connected_at: EpochMillis,
    /// When its rows stop counting: `connected_at` + 2 h + margin.
    pub expires_at: EpochMillis,
    /// Joined auctions and the membership shard each was written to.
    pub joined: BTreeMap<String, u32>,
}

impl Connection {
    /// A fresh connection opened at `connected_at`, with the standard expiry.
    #[must_use]
    pub fn new(
        connection_id: impl Into<String>,
        user_id: Option<String>,
        tenant_id: impl Into<String>,
        roles: Vec<String>,
        connected_at: EpochMillis,
    ) -> Self {
        Self {
            connection_id: connection_id.into(),
            user_id,
            tenant_id: tenant_id.into(),
            roles,
            connected_at,
            // Whole seconds: DynamoDB's TTL attribute is epoch seconds.
            expires_at: EpochMillis::from_seconds(
                connected_at.as_seconds() + MAX_CONNECTION_SECONDS + EXPIRY_MARGIN_SECONDS,
            ),
            joined: BTreeMap::new(),
        }
    }
}

/// One member of an auction group, as the fan-out needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// Where to post.
    pub connection_id: String,
    /// Whose connection it is (`None`: anonymous), for "everyone but the buyer".
    pub user_id: Option<String>,
}
