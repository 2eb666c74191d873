//! [`DynamoRateLimits`]: one row per subject and window (`RATE#subject` / `WINDOW#n`), counting
//! `calls` with a single conditional `ADD`, and expiring one window after its own ends.
//!
//! A window is its own row, so a new window never races the reset of the old one: the first
//! call of a window always finds a budget, however close behind the last call of the previous
//! window it comes.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use infra::tables::EXPIRES_AT;

use super::user_key;
use crate::dynamo::item::n;
use crate::dynamo::table::{Table, condition_failed};
use auction_core::domain::EpochMillis;
use auction_core::ports::{RateLimiter, RateSubject, StoreError};
use auction_core::rate::Window;

/// Rate-limit windows in the connections table.
#[derive(Debug, Clone)]
pub struct DynamoRateLimits {
    table: Table,
}

impl DynamoRateLimits {
    /// The adapter over `table` (the stack's `ConnectionsTable`).
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
        }
    }
}

fn subject_key(subject: RateSubject<'_>) -> String {
    match subject {
        RateSubject::Connection(connection_id) => format!("RATE#CONN#{connection_id}"),
        RateSubject::User { tenant_id, user_id } => {
            format!("RATE#{}", user_key(tenant_id, user_id))
        }
        RateSubject::Creator { tenant_id, user_id } => {
            format!("RATE#CREATE#{}", user_key(tenant_id, user_id))
        }
    }
}

#[async_trait]
impl RateLimiter for DynamoRateLimits {
    async fn take(
        &self,
        subject: RateSubject<'_>,
        window: Window,
        max_calls: u32,
    ) -> Result<bool, StoreError> {
        if max_calls == 0 {
            return Ok(false);
        }
        // Kept one window longer than it counts, so TTL never deletes a row still in use.
        let expires = window.ends_at.0 + window.ends_at.millis_since(window.starts_at);
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(Table::key(
                subject_key(subject),
                format!("WINDOW#{}", window.number),
            )))
            .update_expression("ADD calls :one SET #expires = :expires")
            .condition_expression("attribute_not_exists(calls) OR calls < :max")
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max_calls))
            .expression_attribute_values(":expires", n(EpochMillis(expires).as_seconds() + 1))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(self.table.error(e)),
        }
    }
}
