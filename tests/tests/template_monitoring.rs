//! `template.yaml`'s dashboard and alarms watch the metrics the code really records
//! (`auction_core::telemetry`), under the namespace the functions are given.

#![allow(clippy::unwrap_used)]

use auction_core::telemetry as m;
use serde_yaml::Value;

const RECORDED: [&str; 14] = [
    m::ACTIVE_CONNECTIONS,
    m::MESSAGES_SENT,
    m::EVENT_TO_CLIENT_LATENCY,
    m::FAILED_CONNECTIONS,
    m::RECONNECTIONS,
    m::FAN_OUT_DURATION,
    m::FAN_OUT_RECIPIENTS,
    m::FAN_OUT_PARTS,
    m::GONE_CONNECTIONS,
    m::FAILED_POSTS,
    m::REJECTED_BIDS,
    m::TICK_DURATION,
    m::TICK_OVERRUNS,
    m::LIVE_AUCTIONS,
];

const NAMESPACE: &str = "AuctionRealtime/${AWS::StackName}";

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The argument of a `!Sub` (or the plain string).
fn sub_text(value: &Value) -> &str {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!Sub" => match &tagged.value {
            Value::String(text) => text,
            Value::Sequence(parts) => parts[0].as_str().unwrap(),
            other => panic!("unexpected !Sub argument {other:?}"),
        },
        Value::String(text) => text,
        other => panic!("not a string or !Sub: {other:?}"),
    }
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, r)| (name.as_str().unwrap(), r))
        .collect()
}

#[test]
fn the_functions_write_to_the_namespace_the_alarms_and_dashboard_read() {
    let template = template();
    let env = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(sub_text(&env["METRICS_NAMESPACE"]), NAMESPACE);

    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 6, "{alarms:?}");
    for (name, alarm) in &alarms {
        let props = &alarm["Properties"];
        if props
            .get("Namespace")
            .is_some_and(|ns| sub_text(ns) == NAMESPACE)
        {
            let metric = props["MetricName"].as_str().unwrap();
            assert!(
                RECORDED.contains(&metric),
                "{name} watches {metric}, never recorded"
            );
        }
        assert!(
            serde_yaml::to_string(&props["AlarmActions"])
                .unwrap()
                .contains("AlarmTopic"),
            "{name} notifies nobody"
        );
    }

    // The dashboard body is JSON once CloudFormation substitutes it.
    let body = sub_text(&template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]);
    let substituted = body.replace("${FanOutDurationAlarmMilliseconds}", "2000");
    let substituted = regex_free_substitute(&substituted);
    let dashboard: serde_json::Value = serde_json::from_str(&substituted).unwrap();
    let text = dashboard.to_string();
    for metric in RECORDED {
        if metric == m::FAN_OUT_RECIPIENTS {
            continue; // the recipients are the sum of sent, gone and failed
        }
        assert!(
            text.contains(metric),
            "the dashboard does not show {metric}"
        );
    }
    for (name, _) in &alarms {
        assert!(
            body.contains(&format!("${{{name}.Arn}}")),
            "the dashboard's alarm widget misses {name}"
        );
    }
}

/// Replaces every `${...}` with a plain word, as CloudFormation would with a value.
fn regex_free_substitute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap();
        out.push_str("value");
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// The concurrency every function reserves by default: a `!If [ReserveConcurrency, n, NoValue]`
/// whose `n` is a number or a parameter's default.
fn reserved_by_default(template: &Value, function: &Value) -> u64 {
    let reservation = &function["Properties"]["ReservedConcurrentExecutions"];
    // The fanout worker reserves always: its cap is what holds the workers' post budget.
    if let Value::Tagged(reference) = reservation
        && reference.tag == "!Ref"
        && reference.value == "FanOutWorkers"
    {
        return template["Parameters"]["FanOutWorkers"]["Default"]
            .as_u64()
            .unwrap();
    }
    let Value::Tagged(choice) = reservation else {
        panic!("no conditional ReservedConcurrentExecutions")
    };
    assert_eq!(choice.tag, "!If");
    let arms = choice.value.as_sequence().unwrap();
    assert_eq!(arms[0], "ReserveConcurrency");
    let reserved = match &arms[1] {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::Tagged(reference) if reference.tag == "!Ref" => {
            let parameter = reference.value.as_str().unwrap();
            template["Parameters"][parameter]["Default"]
                .as_u64()
                .unwrap()
        }
        other => panic!("unexpected reservation {other:?}"),
    };
    assert!(reserved > 0, "a reservation of 0 throttles the function");
    reserved
}

#[test]
fn every_function_reserves_concurrency_within_the_default_account_limit() {
    let template = template();
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 10);
    let total: u64 = functions
        .iter()
        .map(|(name, function)| {
            let reserved = reserved_by_default(&template, function);
            println!("{name}: {reserved}");
            reserved
        })
        .sum();
    // Lambda keeps 100 of the account's default 1,000 unreserved.
    assert!(total <= 900, "{total} reserved of 1,000");
    // The ticker's dispatcher, one run per shard, and the next minute's runs overlapping them.
    let default = |name: &str| template["Parameters"][name]["Default"].as_u64().unwrap();
    assert!(
        default("TickerConcurrency") > 2 * default("LiveIndexShards"),
        "TickerConcurrency must cover 2 x LiveIndexShards + 1"
    );
    assert_eq!(
        template["Parameters"]["ReservedConcurrency"]["Default"],
        "true"
    );
}
