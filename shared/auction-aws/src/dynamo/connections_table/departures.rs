//! [`DynamoDepartures`]: when a signed-in user last lost a connection that had joined an
//! auction (`LEFT#USER#tenant#user` / `META`), for the reconnection metric. Rows expire with the
//! reconnection window.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use infra::tables::EXPIRES_AT;

use super::user_key;
use crate::dynamo::item::{Item, n};
use crate::dynamo::table::Table;
use auction_core::domain::EpochMillis;
use auction_core::ports::{Departures, StoreError};

/// Departures in the connections table.
#[derive(Debug, Clone)]
pub struct DynamoDepartures {
    table: Table,
}

fn departure_key(tenant_id: &str, user_id: &str) -> Item {
    Table::key(format!("LEFT#{}", user_key(tenant_id, user_id)), "META")
}

impl DynamoDepartures {
    /// The adapter over `table` (the stack's `ConnectionsTable`).
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
        }
    }
}

#[async_trait]
impl Departures for DynamoDepartures {
    async fn note(
        &self,
        tenant_id: &str,
        user_id: &str,
        at: EpochMillis,
    ) -> Result<(), StoreError> {
        let mut item = departure_key(tenant_id, user_id);
        item.insert("leftAtMs".to_owned(), n(at.0));
        let window =
            i64::try_from(auction_core::telemetry::RECONNECT_WINDOW.as_secs()).unwrap_or(60);
        item.insert(EXPIRES_AT.to_owned(), n(at.as_seconds() + window));
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.table.error(e))?;
        Ok(())
    }

    async fn take(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<EpochMillis>, StoreError> {
        let deleted = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(departure_key(tenant_id, user_id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.table.error(e))?;
        Ok(deleted
            .attributes
            .as_ref()
            .and_then(|item| item.get("leftAtMs"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .map(EpochMillis))
    }
}
