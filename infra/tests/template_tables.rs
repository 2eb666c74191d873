//! `template.yaml` declares exactly the tables of `infra::tables`: keys, attribute types,
//! indexes, TTL, on-demand billing and point-in-time recovery. Edit both or neither.

use infra::tables::{AUCTIONS, CONNECTIONS, IndexProjection, TableSpec};
use serde_yaml::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml is at the workspace root");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn key_schema(value: &Value) -> Vec<(String, String)> {
    value
        .as_sequence()
        .expect("KeySchema is a list")
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap_or_default().to_owned(),
                k["KeyType"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn expected_keys(hash: &str, range: Option<&str>) -> Vec<(String, String)> {
    let mut keys = vec![(hash.to_owned(), "HASH".to_owned())];
    if let Some(range) = range {
        keys.push((range.to_owned(), "RANGE".to_owned()));
    }
    keys
}

fn check(spec: &TableSpec) {
    let template = template();
    let resource = &template["Resources"][spec.logical_id];
    assert_eq!(
        resource["Type"], "AWS::DynamoDB::Table",
        "{} is missing",
        spec.logical_id
    );
    let props = &resource["Properties"];
    let id = spec.logical_id;

    assert_eq!(
        props["BillingMode"], "PAY_PER_REQUEST",
        "{id}: on-demand billing"
    );
    assert!(
        props["TableName"].is_null(),
        "{id}: the stack names the table, never a literal"
    );

    let mut attributes: Vec<(String, String)> = props["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions is a list")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap_or_default().to_owned(),
                a["AttributeType"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    attributes.sort();
    let mut expected: Vec<(String, String)> = spec
        .attributes
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), kind.letter().to_owned()))
        .collect();
    expected.sort();
    assert_eq!(attributes, expected, "{id}: attribute definitions");

    assert_eq!(
        key_schema(&props["KeySchema"]),
        expected_keys(spec.hash_key, Some(spec.range_key)),
        "{id}: key schema"
    );

    let indexes = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    assert_eq!(indexes.len(), spec.indexes.len(), "{id}: number of indexes");
    for index in spec.indexes {
        let declared = indexes
            .iter()
            .find(|i| i["IndexName"] == index.name)
            .unwrap_or_else(|| panic!("{id}: index {} is missing", index.name));
        assert_eq!(
            key_schema(&declared["KeySchema"]),
            expected_keys(index.hash_key, index.range_key),
            "{id}: keys of index {}",
            index.name
        );
        let projection = &declared["Projection"];
        match index.projection {
            IndexProjection::All => assert_eq!(
                projection["ProjectionType"], "ALL",
                "{id}: {} projects all",
                index.name
            ),
            IndexProjection::KeysOnly => assert_eq!(
                projection["ProjectionType"], "KEYS_ONLY",
                "{id}: {} projects its keys",
                index.name
            ),
            IndexProjection::Include(attributes) => {
                assert_eq!(
                    projection["ProjectionType"], "INCLUDE",
                    "{id}: {} projects some",
                    index.name
                );
                let declared: Vec<&str> = projection["NonKeyAttributes"]
                    .as_sequence()
                    .expect("NonKeyAttributes is a list")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert_eq!(declared, attributes, "{id}: what {} carries", index.name);
            }
        }
    }

    let ttl = &props["TimeToLiveSpecification"];
    match spec.ttl_attribute {
        Some(attribute) => {
            assert_eq!(ttl["AttributeName"], attribute, "{id}: TTL attribute");
            assert_eq!(ttl["Enabled"], true, "{id}: TTL enabled");
        }
        None => assert!(ttl.is_null() || ttl["Enabled"] == false, "{id}: no TTL"),
    }

    let pitr = &props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"];
    assert_eq!(
        *pitr == true,
        spec.point_in_time_recovery,
        "{id}: point-in-time recovery"
    );
}

#[test]
fn connections_table_matches_the_template() {
    check(&CONNECTIONS);
}

#[test]
fn auctions_table_matches_the_template() {
    check(&AUCTIONS);
}

#[test]
fn the_template_has_no_other_tables() {
    let template = template();
    let tables: Vec<&str> = template["Resources"]
        .as_mapping()
        .expect("Resources is a mapping")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table")
        .filter_map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(tables.len(), 2, "tables in the template: {tables:?}");
}
