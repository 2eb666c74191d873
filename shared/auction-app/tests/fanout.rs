//! The fan-out over a real group in the embedded DynamoDB engine: pages of members read ahead of
//! the posts, each member posted exactly once, every connection of the excepted user skipped.

#![allow(clippy::unwrap_used)] // a test's helpers may panic: that is how they fail the test

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use auction_app::fanout::{Audience, FanOut};
use auction_aws::dynamo::{DynamoConnections, DynamoGroups};
use auction_core::domain::{AuctionId, Connection, EpochMillis};
use auction_core::frames::{Empty, Frame};
use auction_core::ports::{ConnectionStore, GroupStore, PushError, Pusher};
use futures::StreamExt;
use infra::embedded::EmbeddedDynamo;
use infra::tables::CONNECTIONS;

/// Records the connections posted to (the push port only; the store is the real engine).
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl Pusher for Recorder {
    async fn post(&self, connection_id: &str, _payload: &str) -> Result<(), PushError> {
        self.0.lock().unwrap().push(connection_id.to_owned());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_five_thousand_is_posted_each_once_without_the_buyer() {
    let engine = EmbeddedDynamo::in_memory().await.unwrap();
    let client = engine.client();
    CONNECTIONS.create(&client, "connections").await.unwrap();
    let groups = Arc::new(DynamoGroups::new(client.clone(), "connections", 4));
    let connections = Arc::new(DynamoConnections::new(
        client,
        "connections",
        (*groups).clone(),
    ));
    let now = EpochMillis::from_system_time(std::time::SystemTime::now());
    let auction = AuctionId::generate();
    futures::stream::iter(0..5000)
        .for_each_concurrent(32, |i| {
            let (connections, groups, auction) = (
                Arc::clone(&connections),
                Arc::clone(&groups),
                auction.clone(),
            );
            async move {
                let id = format!("conn{i:05}AbC=");
                let c = Connection::new(&id, Some(format!("user-{id}")), "public", vec![], now);
                connections.put(&c, 10).await.unwrap();
                groups.join(&c, &auction, now).await.unwrap();
            }
        })
        .await;

    let posted = Arc::new(Recorder::default());
    let fanout = FanOut::new(
        connections as Arc<dyn ConnectionStore>,
        groups as Arc<dyn GroupStore>,
        Arc::clone(&posted) as Arc<dyn Pusher>,
        64,
    );
    let audience = Audience::Group {
        auction_id: auction,
        except_user: Some("user-conn00042AbC=".into()),
    };
    let report = fanout
        .send(&Frame::Pong(Empty {}), &audience, now)
        .await
        .unwrap();
    assert_eq!((report.recipients, report.delivered), (4999, 4999));
    let posted = posted.0.lock().unwrap();
    let unique: HashSet<&String> = posted.iter().collect();
    assert_eq!((posted.len(), unique.len()), (4999, 4999), "each once");
    assert!(
        !unique.contains(&"conn00042AbC=".to_owned()),
        "buyer skipped"
    );
}
