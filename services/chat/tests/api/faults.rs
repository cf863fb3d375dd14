//! Redis going away: the replica reports not ready, reconnects, resubscribes, and
//! what was stored meanwhile is reachable with `since`.

use std::time::Duration;

use deadpool_redis::redis;
use serde_json::json;

use crate::helpers::{User, spawn_cluster};

/// Kills this test's subscriber connections only, found by their client name.
async fn kill_subscribers(app: &crate::helpers::Cluster) -> usize {
    // CLIENT LIST and KILL act on one node: this test runs on one Redis.
    let mut conn = testkit::redis::pool().get().await.unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    let ours = format!("name={}chat-fanout-", app.prefix);
    let ids: Vec<String> = list
        .lines()
        .filter(|line| line.split(' ').any(|field| field.starts_with(&ours)))
        .filter_map(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(str::to_owned)
        .collect();
    for id in &ids {
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    ids.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_subscriber_connection_reconnects_and_fan_out_resumes() {
    let app = spawn_cluster(2, |_| {}).await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut a = app.connect(0, "/ws/chat/room/", &ann).await;
    let mut b = app.connect(1, "/ws/chat/room/", &bob).await;

    assert_eq!(kill_subscribers(&app).await, 2);
    for replica in 0..2 {
        app.wait_metric(replica, "chat_redis_reconnects_total", 1.0)
            .await;
        app.wait_ready(replica).await;
    }
    a.say("after the drop").await;
    assert_eq!(b.next_message().await["message"], "after the drop");
    b.say("and back").await;
    assert_eq!(a.next_message().await["message"], "after the drop");
    assert_eq!(a.next_message().await["message"], "and back");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn while_redis_is_unreachable_readyz_is_503_and_messages_still_arrive_from_postgres() {
    let mut app = spawn_cluster(1, |_| {}).await;
    let proxy = app.add_replica_behind_proxy(|_| {}).await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut a = app.connect(0, "/ws/chat/room/", &ann).await;
    let mut b = app.connect(1, "/ws/chat/room/", &bob).await;
    a.say("before").await;
    let before = b.next_message().await["id"].as_i64().unwrap();

    proxy.cut();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.get(1, "/readyz").await.status() != 503 {
        assert!(tokio::time::Instant::now() < deadline, "readyz stayed 200");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.say("during").await;
    a.next_message().await;
    a.next_message().await;
    // Without Redis, replica 1 finds the message by sweeping PostgreSQL.
    assert_eq!(b.next_message().await["message"], "during");

    proxy.restore();
    app.wait_ready(1).await;
    app.wait_metric(1, "chat_redis_reconnects_total", 1.0).await;
    a.say("after").await;
    assert_eq!(b.next_message().await["message"], "after");

    // And a reconnecting client finds both with `since`.
    b.send_json(json!({"type": "join", "room": "room", "since": before}))
        .await;
    assert_eq!(b.next_json().await["type"], "joined");
    let replayed: Vec<_> = [b.next_message().await, b.next_message().await]
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(replayed, vec!["during", "after"]);
    app.teardown().await;
}
