//! Translating SDK errors into [`StoreError`]. Operation-specific outcomes (a failed condition, a
//! cancelled transaction) are read with the SDK's `is_*_exception()` predicates where they
//! happen; what every operation shares (throttling, a missing table) is classified here.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use auction_core::ports::StoreError;

/// Error codes DynamoDB uses for throttling (the SDK has retried them already).
const THROTTLING_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// Classifies an SDK error that the operation's own handling did not claim. `table` names the
/// table in the error when it is missing.
pub fn classify<E>(error: SdkError<E, HttpResponse>, table: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(service) = error.as_service_error() {
        match service.code() {
            Some("ResourceNotFoundException") => {
                return StoreError::TableMissing {
                    table: table.to_owned(),
                };
            }
            Some(code) if THROTTLING_CODES.contains(&code) => return StoreError::Throttled,
            Some("TransactionConflictException") => return StoreError::Contended,
            _ => {}
        }
    }
    StoreError::Unknown(Box::new(error))
}
