//! The AWS adapters of the auction core's ports: DynamoDB ([`dynamo`], one adapter per port),
//! EventBridge ([`eventbridge`]), API Gateway's Management API ([`push`], a SigV4-signed
//! client), token verification against a shared secret or a JWKS ([`jwt`]), and the one HTTPS
//! client of the last two ([`https`]), and the Lambda Invoke API's asynchronous call that starts
//! the price ticker's shard runs ([`invoke`]).

pub mod dynamo;
pub mod eventbridge;
pub mod https;
pub mod invoke;
pub mod jwt;
pub mod push;
pub mod sdk;
