//! The fan-out over a real group in the embedded DynamoDB engine: pages of members read ahead of
//! the posts, each member posted exactly once, every connection of the excepted user skipped.

#![allow(clippy::unwrap_used)] // a test's helpers may panic: that is how they fail the test

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use auction_app::fanout::workers::{FanOutTask, TaskStarter, WorkerPool};
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

/// A group of `members` connections over 4 membership shards, in a real engine.
struct Group {
    _engine: EmbeddedDynamo,
    groups: Arc<DynamoGroups>,
    connections: Arc<DynamoConnections>,
    auction: AuctionId,
    now: EpochMillis,
}

async fn group_of(members: usize) -> Group {
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
    futures::stream::iter(0..members)
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
    Group {
        _engine: engine,
        groups,
        connections,
        auction,
        now,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_five_thousand_is_posted_each_once_without_the_buyer() {
    // Bound whole: the engine must outlive the fan-out.
    let group = group_of(5_000).await;
    let (groups, connections, auction, now) = (
        Arc::clone(&group.groups),
        Arc::clone(&group.connections),
        group.auction.clone(),
        group.now,
    );

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

/// Records the parts it is asked to start; refuses those whose first shard is in `refuse`.
#[derive(Default)]
struct Parts {
    started: Mutex<Vec<FanOutTask>>,
    refuse: Vec<u32>,
}

#[async_trait::async_trait]
impl TaskStarter for Parts {
    async fn start(&self, task: &FanOutTask) -> Result<(), auction_core::ports::BoxError> {
        if self.refuse.contains(&task.shards[0]) {
            return Err("throttled".into());
        }
        self.started.lock().unwrap().push(task.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_fan_out_posts_each_member_once_over_its_workers_and_skips_the_buyer() {
    let group = group_of(5_000).await;
    let (groups, connections) = (
        Arc::clone(&group.groups) as Arc<dyn GroupStore>,
        Arc::clone(&group.connections) as Arc<dyn ConnectionStore>,
    );
    let pool = WorkerPool {
        group_viewers: 1_000,
        posts_per_second: 1_000_000,
        workers: 8,
    };
    // One part of four cannot be started (Lambda throttled the invoke): the sender posts it.
    let parts = Arc::new(Parts {
        refuse: vec![3],
        ..Parts::default()
    });
    let posted = Arc::new(Recorder::default());
    let sender = FanOut::new(
        Arc::clone(&connections),
        Arc::clone(&groups),
        Arc::clone(&posted) as Arc<dyn Pusher>,
        64,
    )
    .with_workers(pool, Arc::clone(&parts) as Arc<dyn TaskStarter>);
    let audience = Audience::Group {
        auction_id: group.auction.clone(),
        except_user: Some("user-conn00042AbC=".into()),
    };
    let frame = Frame::Pong(Empty {});
    let report = sender.send(&frame, &audience, group.now).await.unwrap();
    assert_eq!(
        report.delegated, 3,
        "5,000 members at 1,000 a part: four parts, one refused"
    );
    let by_sender = report.recipients;
    assert!(
        (1_000..1_500).contains(&by_sender),
        "the refused shard's {by_sender}"
    );

    // Each started part runs on a worker of its own, as the `fanout` function runs it.
    let tasks = parts.started.lock().unwrap().clone();
    let mut shards: Vec<u32> = tasks.iter().flat_map(|t| t.shards.clone()).collect();
    shards.sort_unstable();
    assert_eq!(
        shards,
        [0, 1, 2],
        "each shard in one part, the refused one posted here"
    );
    let worker = FanOut::new(
        connections,
        groups,
        Arc::clone(&posted) as Arc<dyn Pusher>,
        64,
    )
    .with_post_rate(pool.per_worker());
    let reports = futures::future::join_all(tasks.iter().map(|task| worker.run_task(task))).await;
    let by_workers: u64 = reports.into_iter().map(|r| r.unwrap().delivered).sum();
    assert_eq!(by_sender + by_workers, 4_999);

    let posted = posted.0.lock().unwrap();
    let unique: HashSet<&String> = posted.iter().collect();
    assert_eq!((posted.len(), unique.len()), (4_999, 4_999), "each once");
    assert!(
        !unique.contains(&"conn00042AbC=".to_owned()),
        "buyer skipped"
    );
    // Every part carries the frame as the sender encoded it.
    assert!(tasks.iter().all(|t| t.payload == frame.encode(group.now)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_below_the_worker_size_is_posted_by_the_sender() {
    let group = group_of(300).await;
    let parts = Arc::new(Parts::default());
    let posted = Arc::new(Recorder::default());
    let sender = FanOut::new(
        Arc::clone(&group.connections) as Arc<dyn ConnectionStore>,
        Arc::clone(&group.groups) as Arc<dyn GroupStore>,
        Arc::clone(&posted) as Arc<dyn Pusher>,
        64,
    )
    .with_workers(
        WorkerPool::default(),
        Arc::clone(&parts) as Arc<dyn TaskStarter>,
    );
    let audience = Audience::Group {
        auction_id: group.auction.clone(),
        except_user: None,
    };
    let report = sender
        .send(&Frame::Pong(Empty {}), &audience, group.now)
        .await
        .unwrap();
    assert_eq!((report.delegated, report.delivered), (0, 300));
    assert!(parts.started.lock().unwrap().is_empty());
}
