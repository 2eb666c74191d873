//! [`DynamoConnections`]: connection rows and a user's connections (the sparse `byUser` index).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use infra::tables::{BY_USER_INDEX, EXPIRES_AT, USER_KEY};

use super::groups::DynamoGroups;
use super::{connection_key, is_live, user_key};
use crate::dynamo::item::{Item, ItemExt, n, s};
use crate::dynamo::table::Table;
use auction_core::domain::{AuctionId, Connection, EpochMillis};
use auction_core::ports::{ConnectionStore, StoreError};

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

#[async_trait]
impl ConnectionStore for DynamoConnections {
    async fn put(&self, connection: &Connection) -> Result<(), StoreError> {
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
        }
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
        Ok(deleted.attributes.is_some().then_some(connection))
    }

    async fn connections_of_user(
        &self,
        tenant_id: &str,
        user_id: &str,
        now: EpochMillis,
    ) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
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
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| self.table.error(e))?;
            for item in page.items() {
                found.push(item.string("connectionId")?);
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                return Ok(found);
            }
        }
    }
}
