//! `template.yaml` declares the event bus exactly as `infra::bus` says: the notifier rule's
//! pattern (which `auction-local` matches with quamina), its retry policy and dead-letter queue.

#![allow(clippy::unwrap_used)]

use infra::bus::{
    NOTIFIER_MAX_EVENT_AGE_SECONDS, NOTIFIER_MAX_RETRY_ATTEMPTS, NOTIFIER_RULE_LOGICAL_ID,
    notifier_pattern,
};
use serde_yaml::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn to_json(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}

#[test]
fn the_notifier_rule_is_the_one_auction_local_matches() {
    let template = template();
    let rule = &template["Resources"][NOTIFIER_RULE_LOGICAL_ID];
    assert_eq!(rule["Type"], "AWS::Events::Rule");
    let props = &rule["Properties"];
    let pattern: serde_json::Value = serde_json::from_str(&notifier_pattern()).unwrap();
    assert_eq!(to_json(&props["EventPattern"]), pattern);

    let targets = props["Targets"].as_sequence().unwrap();
    assert_eq!(targets.len(), 1);
    let target = &targets[0];
    assert_eq!(
        target["RetryPolicy"]["MaximumRetryAttempts"].as_u64(),
        Some(u64::from(NOTIFIER_MAX_RETRY_ATTEMPTS))
    );
    assert_eq!(
        target["RetryPolicy"]["MaximumEventAgeInSeconds"].as_u64(),
        Some(u64::from(NOTIFIER_MAX_EVENT_AGE_SECONDS))
    );
    let text = serde_yaml::to_string(target).unwrap();
    assert!(text.contains("NotifierFunction.Arn"), "{text}");
    assert!(text.contains("NotifierDeadLetterQueue.Arn"), "{text}");
}

#[test]
fn the_price_ticker_runs_every_minute_for_less_than_its_timeout() {
    let template = template();
    let ticker = &template["Resources"]["PriceTickerFunction"]["Properties"];
    assert_eq!(
        ticker["Events"]["EveryMinute"]["Properties"]["Schedule"],
        "rate(1 minute)"
    );
    // A run ticks for 60 s and stops 3 s before its deadline; auction-local uses the same 70 s.
    assert_eq!(ticker["Timeout"].as_u64(), Some(70));
}
