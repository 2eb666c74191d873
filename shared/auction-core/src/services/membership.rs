//! Connections and auction groups: the use cases behind `$connect`, `JoinAuction`,
//! `LeaveAuction` and `$disconnect`.
//!
//! A join checks the connection's Join/Leave budget first, then the auction id, the connection,
//! the auction and its tenant (a mismatch is refused, not joined), joins the group (counting the
//! viewer once per connection) and returns the snapshot the caller is sent. Nothing is broadcast
//! to the group for a join.

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::{AuctionId, AuctionSnapshot, Connection, EpochMillis, PushCadence};
use crate::identity::Identity;
use crate::ports::{
    Admission, AuctionStore, ConnectionStore, Departures, GroupStore, JoinError, LeaveOutcome,
    RateLimiter, RateSubject, StoreError,
};
use crate::rate::RateLimit;
use crate::telemetry;

/// How far `$connect`'s `connectedAt` may be from the clock before the clock is trusted instead.
const CONNECTED_AT_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// Why a Join or Leave was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// The connection spent its Join/Leave budget.
    #[error("too many JoinAuction/LeaveAuction calls; slow down")]
    RateLimited,
    /// The frame's `auctionId` is missing or malformed.
    #[error("{0}")]
    BadRequest(&'static str),
    /// The connection is not (or no longer) registered.
    #[error("the connection is not registered; reconnect")]
    NotRegistered,
    /// No such auction.
    #[error("no such auction")]
    AuctionNotFound,
    /// The auction belongs to another tenant.
    #[error("the auction belongs to another tenant")]
    WrongTenant,
    /// The connection went away while joining.
    #[error("the connection is gone")]
    ConnectionGone,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The membership use cases and what they need.
pub struct Membership {
    /// Connections.
    pub connections: Arc<dyn ConnectionStore>,
    /// Groups and viewer counts.
    pub groups: Arc<dyn GroupStore>,
    /// Join/Leave budgets.
    pub rate_limits: Arc<dyn RateLimiter>,
    /// Auctions.
    pub auctions: Arc<dyn AuctionStore>,
    /// Departures, for the reconnection metric.
    pub departures: Arc<dyn Departures>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Join/Leave calls per connection per window.
    pub join_rate: RateLimit,
    /// Live connections one signed-in user may hold.
    pub max_connections_per_user: u32,
    /// The ticker's cadence, announced in snapshots.
    pub cadence: PushCadence,
}

/// The limits of [`Membership`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipLimits {
    /// Join/Leave calls per connection per window.
    pub join_rate: RateLimit,
    /// Live connections one signed-in user may hold: each is a recipient of every push to the
    /// user, so the cap bounds what one user's bids cost the fan-out.
    pub max_connections_per_user: u32,
}

impl Default for MembershipLimits {
    fn default() -> Self {
        Self {
            join_rate: RateLimit::JOIN_DEFAULT,
            max_connections_per_user: 10,
        }
    }
}

/// Why `$connect` refused a connection; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The user already holds the most connections allowed.
    #[error("this user already holds {0} connections; close one first")]
    TooManyConnections(u32),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Membership {
    /// `$connect`: records the connection of `identity`, opened at `connected_at` as the gateway
    /// says (the clock's time when that is minutes away: a replayed event or a skewed clock would
    /// expire the rows early), and counts a reconnection. Never posts.
    ///
    /// # Errors
    /// [`ConnectError`] when the connection was not recorded (the handshake then fails).
    pub async fn connect(
        &self,
        connection_id: &str,
        identity: Identity,
        connected_at: EpochMillis,
    ) -> Result<Connection, ConnectError> {
        let now = self.clock.now();
        let connected_at = if connected_at.millis_since(now).abs() <= CONNECTED_AT_TOLERANCE_MS {
            connected_at
        } else {
            now
        };
        let connection = Connection::new(
            connection_id,
            identity.user_id,
            identity.tenant_id,
            identity.roles,
            connected_at,
        );
        match self
            .connections
            .put(&connection, self.max_connections_per_user)
            .await
        {
            Ok(Admission::Stored) => {}
            Ok(Admission::UserAtCapacity) => {
                metrics::counter!(telemetry::FAILED_CONNECTIONS, "Reason" => "TooManyConnections")
                    .increment(1);
                return Err(ConnectError::TooManyConnections(
                    self.max_connections_per_user,
                ));
            }
            Err(e) => {
                metrics::counter!(telemetry::FAILED_CONNECTIONS, "Reason" => "Error").increment(1);
                return Err(e.into());
            }
        }
        if let Some(user_id) = &connection.user_id {
            self.count_reconnection(&connection.tenant_id, user_id, connected_at)
                .await;
        }
        Ok(connection)
    }

    /// Counts a reconnection when the user lost a joined connection within the window. Best
    /// effort: the metric never fails a handshake.
    async fn count_reconnection(&self, tenant_id: &str, user_id: &str, now: EpochMillis) {
        match self.departures.take(tenant_id, user_id).await {
            Ok(Some(left_at)) => {
                let window = i64::try_from(telemetry::RECONNECT_WINDOW.as_millis()).unwrap_or(0);
                if now.millis_since(left_at) <= window {
                    metrics::counter!(telemetry::RECONNECTIONS).increment(1);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = ?e, "departure note not read"),
        }
    }

    /// `$disconnect`: removes the connection, its memberships and their counts, and notes the
    /// departure of a signed-in user who had joined auctions. Idempotent.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn disconnect(&self, connection_id: &str) -> Result<(), StoreError> {
        let Some(removed) = self.connections.remove(connection_id).await? else {
            return Ok(());
        };
        tracing::debug!(
            connection = connection_id,
            groups = removed.joined.len(),
            "disconnected"
        );
        if let (Some(user_id), false) = (&removed.user_id, removed.joined.is_empty()) {
            let noted = self
                .departures
                .note(&removed.tenant_id, user_id, self.clock.now())
                .await;
            if let Err(e) = noted {
                tracing::warn!(error = ?e, "departure not noted");
            }
        }
        Ok(())
    }

    /// Spends one call of the connection's message budget (the one Join and Leave spend) for a
    /// message of any other kind (`Ping`, an unknown action); `false` when it is spent, and the
    /// message should then get no reply: a flood of them costs at most the budget's replies.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn admit_message(&self, connection_id: &str) -> Result<bool, StoreError> {
        let window = self.join_rate.window_at(self.clock.now());
        self.rate_limits
            .take(
                RateSubject::Connection(connection_id),
                window,
                self.join_rate.max_calls,
            )
            .await
    }

    /// Spends one call of the connection's Join/Leave budget, then checks the auction id.
    async fn admit(
        &self,
        connection_id: &str,
        auction_id: Result<AuctionId, &'static str>,
        now: EpochMillis,
    ) -> Result<AuctionId, MembershipError> {
        let window = self.join_rate.window_at(now);
        let admitted = self
            .rate_limits
            .take(
                RateSubject::Connection(connection_id),
                window,
                self.join_rate.max_calls,
            )
            .await?;
        if !admitted {
            return Err(MembershipError::RateLimited);
        }
        auction_id.map_err(MembershipError::BadRequest)
    }

    /// `JoinAuction`: joins the group and returns the snapshot to send the caller.
    ///
    /// # Errors
    /// [`MembershipError`]; nothing is joined then.
    pub async fn join(
        &self,
        connection_id: &str,
        auction_id: Result<AuctionId, &'static str>,
    ) -> Result<AuctionSnapshot, MembershipError> {
        let now = self.clock.now();
        let auction_id = self.admit(connection_id, auction_id, now).await?;
        let Some(connection) = self.connections.get(connection_id, now).await? else {
            tracing::warn!(
                connection = connection_id,
                "join from an unregistered connection"
            );
            return Err(MembershipError::NotRegistered);
        };
        let auction = self
            .auctions
            .get(&auction_id)
            .await?
            .ok_or(MembershipError::AuctionNotFound)?;
        if auction.tenant_id != connection.tenant_id {
            return Err(MembershipError::WrongTenant);
        }
        match self.groups.join(&connection, &auction_id, now).await {
            Ok(_) => {}
            Err(JoinError::ConnectionGone) => return Err(MembershipError::ConnectionGone),
            Err(JoinError::Store(e)) => return Err(e.into()),
        }
        let viewers = self.groups.viewer_count(&auction_id, now).await?;
        Ok(auction.snapshot(self.clock.now(), viewers, self.cadence))
    }

    /// `LeaveAuction`: leaves the group and uncounts the viewer. Leaving a group one is not in is
    /// not an error.
    ///
    /// # Errors
    /// [`MembershipError`].
    pub async fn leave(
        &self,
        connection_id: &str,
        auction_id: Result<AuctionId, &'static str>,
    ) -> Result<LeaveOutcome, MembershipError> {
        let now = self.clock.now();
        let auction_id = self.admit(connection_id, auction_id, now).await?;
        Ok(self.groups.leave(connection_id, &auction_id).await?)
    }
}
