//! A table and its client: the reads every adapter of that table shares.

use aws_sdk_dynamodb::Client;
use infra::tables::{PK, SK};

use super::errors::classify;
use super::item::{Item, s};
use auction_core::ports::StoreError;

/// One table, reached through one client.
#[derive(Debug, Clone)]
pub struct Table {
    /// The client.
    pub client: Client,
    /// The table's name.
    pub name: String,
}

impl Table {
    /// `name` through `client`.
    #[must_use]
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    /// The primary key `(pk, sk)` as an item.
    #[must_use]
    pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
        Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
    }

    /// The item at `key`; `consistent` for a strongly consistent read.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn get(&self, key: Item, consistent: bool) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| classify(e, &self.name))?;
        Ok(output.item)
    }

    /// Classifies an SDK error of an operation on this table.
    pub fn error<E>(
        &self,
        error: aws_sdk_dynamodb::error::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> StoreError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        classify(error, &self.name)
    }
}

/// Whether an SDK error is a failed condition of a single-item write.
pub fn condition_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    error: &aws_sdk_dynamodb::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool {
    error
        .as_service_error()
        .and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

/// The reasons a transaction was cancelled, one per item in the transaction's order; `None` when
/// the error is not a cancellation.
pub fn cancellation_reasons(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> Option<&[aws_sdk_dynamodb::types::CancellationReason]> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            Some(c.cancellation_reasons())
        }
        _ => None,
    }
}

/// Whether the `index`-th item of a cancelled transaction failed its condition.
pub fn condition_failed_at(
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
    index: usize,
) -> bool {
    reasons
        .get(index)
        .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
}
