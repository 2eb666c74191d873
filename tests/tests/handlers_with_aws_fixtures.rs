//! The handlers accept the real event JSON API Gateway sends (the fixtures of
//! `aws_lambda_events`, copied into `tests/events/`).

#![allow(clippy::unwrap_used)]

use auction_core::domain::EpochMillis;
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest,
};

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_message_and_disconnect_fixtures_are_handled() {
    let stack = tests::start().await;
    let deps = &stack
        .adapters
        .ws(auction_core::services::MembershipLimits::default());
    let connect: ApiGatewayWebsocketProxyRequest = fixture("example-apigw-websocket-request.json");
    let id = connect.request_context.connection_id.clone().unwrap();
    let event_connected_at = EpochMillis(connect.request_context.connected_at);
    let before = tests::now();
    let response = auction_app::ws::connect(deps, connect).await.unwrap();
    assert_eq!(response.status_code, 200);
    // The fixture says it connected in 2019. At $connect a connection opens now, so a connectedAt
    // that far from the clock (an event replayed by hand) is replaced by the clock's time: the
    // row is live, not born expired.
    let stored = stack
        .adapters
        .connections
        .get(&id, tests::now())
        .await
        .unwrap()
        .expect("stored and live");
    assert!(stored.connected_at >= before, "{stored:?}");
    assert!(event_connected_at < before.plus_seconds(-3600));
    assert_eq!(
        stored.tenant_id, "public",
        "no authorizer context: an anonymous viewer"
    );

    // The same event as a message to $default: its body `{"a": 1}` has no action.
    let message: ApiGatewayWebsocketProxyRequest = fixture("example-apigw-websocket-request.json");
    let response = auction_app::ws::default_route(deps, message).await.unwrap();
    assert_eq!(response.status_code, 400);

    let without_method: ApiGatewayWebsocketProxyRequest =
        fixture("example-apigw-websocket-request-without-method.json");
    assert_eq!(
        auction_app::ws::connect(deps, without_method)
            .await
            .unwrap()
            .status_code,
        200
    );

    let disconnect: ApiGatewayWebsocketProxyRequest =
        fixture("example-apigw-websocket-request-disconnect-route.json");
    assert_eq!(
        auction_app::ws::disconnect(deps, disconnect.clone())
            .await
            .unwrap()
            .status_code,
        200
    );
    assert_eq!(
        auction_app::ws::disconnect(deps, disconnect)
            .await
            .unwrap()
            .status_code,
        200,
        "idempotent"
    );
}

#[tokio::test]
async fn the_authorizer_fixture_is_refused_without_a_valid_token() {
    let event: ApiGatewayCustomAuthorizerRequestTypeRequest =
        fixture("example-apigw-v2-custom-authorizer-websocket-request.json");
    let mut config = auction_aws::jwt::AuthConfig::local_development();
    config.anonymous_viewing = false;
    let verifier = auction_aws::jwt::TokenVerifier::new(config);
    let result = auction_app::ws::authorize(&verifier, event.clone()).await;
    assert_eq!(
        result.unwrap_err().to_string(),
        "Unauthorized",
        "API Gateway's 401"
    );

    let anonymous =
        auction_aws::jwt::TokenVerifier::new(auction_aws::jwt::AuthConfig::local_development());
    let allowed = auction_app::ws::authorize(&anonymous, event).await.unwrap();
    let policy = serde_json::to_value(&allowed.policy_document).unwrap();
    assert_eq!(policy["Statement"][0]["Effect"], "Allow");
    assert_eq!(allowed.context["tenantId"], "public");
}
