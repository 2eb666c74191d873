//! The AWS SDK configuration every client of a process is built from.

/// The configuration from the environment (region, credentials, and endpoint overrides such as
/// `AWS_ENDPOINT_URL_DYNAMODB`), with the product's one HTTPS client ([`infra::http_client`]).
pub async fn from_env() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(infra::http_client())
        .load()
        .await
}
