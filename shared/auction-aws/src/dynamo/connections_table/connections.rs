//! [`DynamoConnections`]: connection rows and a user's connections (the sparse `byUser` index).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use infra::tables::{BY_USER_INDEX, EXPIRES_AT, USER_KEY};

use super::groups::DynamoGroups;
use super::{connection_key, is_live, user_key};
use crate::dynamo::item::{Item, ItemExt, n, s};
use crate::dynamo::table::{Table, cancellation_reasons, condition_failed, condition_failed_at};
use auction_core::domain::{AuctionId, Connection, EpochMillis};
use auction_core::ports::{Admission, ConnectionStore, StoreError};

/// A user's count of live connections: `CONNS#USER#tenant#user` / `COUNT`, attribute `live`.
/// It expires with the newest connection it counted, so a count that lost a `$disconnect` (a
/// connection that died with its Lambda) ends with the connections it could have counted.
fn user_count_key(tenant_id: &str, user_id: &str) -> Item {
    Table::key(format!("CONNS#{}", user_key(tenant_id, user_id)), "COUNT")
}

fn build_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unknown(Box::new(e))
}

/// Connections in the connections table.
#[derive(Debug, Clone)]
pub struct DynamoConnections {
    table: Table,
    /// Removing a connection removes its memberships.
    groups: DynamoGroups,
}

/// The connection a row holds.
pub(super) fn connection_from(item: &Item) -> Result<Connection, StoreError> {
    let joined = match item.get("joined") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .map(|(auction, shard)| match shard {
                AttributeValue::N(v) => v
                    .parse()
                    .map(|shard| (auction.clone(), shard))
                    .map_err(|_| StoreError::CorruptItem("joined shard".into())),
                _ => Err(StoreError::CorruptItem("joined shard".into())),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?,
        _ => BTreeMap::new(),
    };
    let roles = match item.get("roles") {
        Some(AttributeValue::L(list)) => {
            list.iter().filter_map(|r| r.as_s().ok().cloned()).collect()
        }
        _ => Vec::new(),
    };
    Ok(Connection {
        connection_id: item.string("connectionId")?,
        user_id: item.opt_string("userId"),
        tenant_id: item.string("tenantId")?,
        roles,
        connected_at: EpochMillis(item.int("connectedAtMs")?),
        expires_at: EpochMillis::from_seconds(item.int(EXPIRES_AT)?),
        joined,
    })
}

impl DynamoConnections {
    /// The adapter over `table` (the stack's `ConnectionsTable`); `groups` is the same table's
    /// group adapter, through which a removed connection leaves its groups.
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>, groups: DynamoGroups) -> Self {
        Self {
            table: Table::new(client, table),
            groups,
        }
    }
}

impl DynamoConnections {
    /// Writes the connection's row and takes a place in its user's count, in one transaction:
    /// `Ok(false)` when the count is full.
    async fn put_counted(
        &self,
        item: Item,
        connection: &Connection,
        user_id: &str,
        max_per_user: u32,
    ) -> Result<bool, StoreError> {
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .build()
            .map_err(build_error)?;
        let count = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(user_count_key(&connection.tenant_id, user_id)))
            .update_expression("ADD live :one SET #expires = :expires")
            .condition_expression("attribute_not_exists(live) OR live < :max")
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max_per_user))
            .expression_attribute_values(":expires", n(connection.expires_at.as_seconds()))
            .build()
            .map_err(build_error)?;
        let result = self
            .table
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // Items: [connection, counter]; the counter's condition is the cap.
            Err(e) if cancellation_reasons(&e).is_some_and(|r| condition_failed_at(r, 1)) => {
                Ok(false)
            }
            Err(e) => Err(self.table.error(e)),
        }
    }

    /// Sets a full count back to the user's live connections when it counts more (connections
    /// that died without `$disconnect`); true when that made room.
    async fn recount(
        &self,
        connection: &Connection,
        user_id: &str,
        max_per_user: u32,
    ) -> Result<bool, StoreError> {
        let live = self
            .connections_of_user(&connection.tenant_id, user_id, connection.connected_at)
            .await?
            .len();
        let live = u32::try_from(live).unwrap_or(u32::MAX);
        if live >= max_per_user {
            return Ok(false);
        }
        let reset = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(user_count_key(&connection.tenant_id, user_id)))
            .update_expression("SET live = :live")
            .condition_expression("live >= :max")
            .expression_attribute_values(":live", n(live))
            .expression_attribute_values(":max", n(max_per_user))
            .send()
            .await;
        match reset {
            Ok(_) => Ok(true),
            // Someone else changed the count meanwhile: whatever it says now stands.
            Err(e) if condition_failed(&e) => Ok(true),
            Err(e) => Err(self.table.error(e)),
        }
    }
}

#[async_trait]
impl ConnectionStore for DynamoConnections {
    async fn put(
        &self,
        connection: &Connection,
        max_per_user: u32,
    ) -> Result<Admission, StoreError> {
        let mut item = connection_key(&connection.connection_id);
        item.insert("connectionId".to_owned(), s(&connection.connection_id));
        item.insert("tenantId".to_owned(), s(&connection.tenant_id));
        item.insert("connectedAtMs".to_owned(), n(connection.connected_at.0));
        item.insert(EXPIRES_AT.to_owned(), n(connection.expires_at.as_seconds()));
        item.insert("joined".to_owned(), AttributeValue::M(Default::default()));
        item.insert(
            "roles".to_owned(),
            AttributeValue::L(connection.roles.iter().map(s).collect()),
        );
        if let Some(user_id) = &connection.user_id {
            item.insert("userId".to_owned(), s(user_id));
            item.insert(
                USER_KEY.to_owned(),
                s(user_key(&connection.tenant_id, user_id)),
            );
            if self
                .put_counted(item.clone(), connection, user_id, max_per_user)
                .await?
            {
                return Ok(Admission::Stored);
            }
            // Full: unless the count holds connections that died without `$disconnect`.
            if self.recount(connection, user_id, max_per_user).await?
                && self
                    .put_counted(item, connection, user_id, max_per_user)
                    .await?
            {
                return Ok(Admission::Stored);
            }
            return Ok(Admission::UserAtCapacity);
        }
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.table.error(e))?;
        Ok(Admission::Stored)
    }

    async fn get(
        &self,
        connection_id: &str,
        now: EpochMillis,
    ) -> Result<Option<Connection>, StoreError> {
        match self.table.get(connection_key(connection_id), true).await? {
            Some(item) if is_live(&item, now) => connection_from(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn remove(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let Some(item) = self.table.get(connection_key(connection_id), true).await? else {
            return Ok(None);
        };
        let connection = connection_from(&item)?;
        let leaves = connection.joined.iter().map(|(auction, shard)| async move {
            let auction = AuctionId::parse(auction)
                .map_err(|_| StoreError::CorruptItem("joined auction id".into()))?;
            self.groups
                .leave_shard(connection_id, &auction, *shard)
                .await
        });
        for result in futures::future::join_all(leaves).await {
            result?;
        }
        // Only the caller that deletes the row reports the connection: removal happens once.
        let deleted = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(connection_key(connection_id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.table.error(e))?;
        if deleted.attributes.is_none() {
            return Ok(None);
        }
        if let Some(user_id) = &connection.user_id {
            let released = self
                .table
                .client
                .update_item()
                .table_name(&self.table.name)
                .set_key(Some(user_count_key(&connection.tenant_id, user_id)))
                .update_expression("ADD live :minus_one")
                .condition_expression("live > :zero")
                .expression_attribute_values(":minus_one", n(-1))
                .expression_attribute_values(":zero", n(0))
                .send()
                .await;
            match released {
                // A count that expired or was recounted has nothing of this connection's.
                Ok(_) => {}
                Err(e) if condition_failed(&e) => {}
                Err(e) => return Err(self.table.error(e)),
            }
        }
        Ok(Some(connection))
    }

    async fn connections_of_user(
        &self,
        tenant_id: &str,
        user_id: &str,
        now: EpochMillis,
    ) -> Result<Vec<String>, StoreError> {
        let items = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .index_name(BY_USER_INDEX)
            .key_condition_expression("#user = :user")
            .filter_expression("#expires > :now")
            .expression_attribute_names("#user", USER_KEY)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":user", s(user_key(tenant_id, user_id)))
            .expression_attribute_values(":now", n(now.as_seconds()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.table.error(e))?;
        items
            .iter()
            .map(|item| item.string("connectionId"))
            .collect()
    }
}
