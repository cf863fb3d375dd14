//! A Redis Cluster master dies under traffic: after a replica is promoted,
//! every stored message reaches every watcher on both chat replicas, in order,
//! once (or after a 1013, on rejoining with `since`).

use std::time::Duration;

use testkit::redis_cluster::RedisCluster;

use crate::{
    helpers::{User, spawn_cluster},
    watch::{send_paced, watch_all},
};

#[tokio::test(flavor = "multi_thread")]
async fn a_master_that_dies_under_traffic_loses_no_message_and_reorders_none() {
    const PER_SENDER: usize = 120;
    let mut redis = RedisCluster::start().await;
    let url = redis.url();
    let app = spawn_cluster(2, |c| {
        c.limits.rate_per_sec = 10_000;
        c.limits.burst = 10_000;
        c.shared.redis.url = url.clone();
    })
    .await;
    // Two rooms whose channels live on the same master: the one to kill.
    let channel = |room: &str| format!("{}chat:room:{room}", app.prefix);
    let victim = redis.master_of(&channel("r0")).await;
    let mut rooms = vec!["r0".to_owned()];
    for i in 1.. {
        let room = format!("r{i}");
        if redis.master_of(&channel(&room)).await == victim {
            rooms.push(room);
            break;
        }
    }

    let mut watchers = Vec::new();
    for room in &rooms {
        for replica in 0..2 {
            let path = format!("/ws/chat/{room}/");
            watchers.push((
                room.clone(),
                replica,
                app.connect(replica, &path, &User::new("w")).await,
            ));
        }
    }
    let mut sending = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        for replica in 0..2 {
            let path = format!("/ws/chat/{room}/");
            let sender = app
                .connect(replica, &path, &User::new(&format!("s{i}{replica}")))
                .await;
            sending.push(tokio::spawn(send_paced(
                sender,
                room.clone(),
                PER_SENDER,
                Duration::from_millis(10),
                format!("{replica}:"),
            )));
        }
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    redis.kill(victim);
    redis.wait_for_failover().await;
    for task in sending {
        task.await.unwrap();
    }
    let total = i64::try_from(2 * PER_SENDER).unwrap();
    for (room, replica, watcher) in watchers {
        watch_all(&app, replica, watcher, &room, total).await;
    }
    app.teardown().await;
}
