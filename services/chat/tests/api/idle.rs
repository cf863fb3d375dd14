//! Rooms that go quiet through a fault: their first message afterwards still
//! reaches every replica through Redis, not only through the periodic sweep
//! (which would also lose every event of the room: receipts, typing, presence).

use std::time::Duration;

use testkit::redis_server::PrivateRedis;

use crate::helpers::{User, spawn_cluster};

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_rooms_first_message_after_redis_restarts_arrives_everywhere() {
    let mut redis = PrivateRedis::start().await;
    let url = redis.url();
    let app = spawn_cluster(2, |c| {
        c.shared.redis.url = url.clone();
        // Far longer than the test: only Redis can bring the message in time.
        c.tuning.sweep_interval = Duration::from_secs(600);
    })
    .await;
    let mut a = app.connect(0, "/ws/chat/quiet/", &User::new("ann")).await;
    let mut b = app.connect(1, "/ws/chat/quiet/", &User::new("bob")).await;
    a.say("before").await;
    assert_eq!(b.next_message().await["id"], 1);
    a.next_message().await;

    redis.restart().await;
    for replica in 0..2 {
        app.wait_metric(replica, "chat_redis_reconnects_total", 1.0)
            .await;
        app.wait_ready(replica).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (from, to, id) in [(0, 1, 2), (1, 0, 3)] {
        let started = tokio::time::Instant::now();
        let (sender, receiver) = if from == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        sender.say("after").await;
        let got = receiver
            .next_json_within(Duration::from_secs(3))
            .await
            .unwrap_or_else(|| panic!("replica {to} never got id {id}"));
        assert_eq!(got["id"], id, "{got}");
        tracing::info!(elapsed = ?started.elapsed(), from, to, "first message after the restart");
        sender.next_message().await;
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_rooms_first_message_after_a_cluster_failover_arrives_everywhere() {
    use testkit::redis_cluster::RedisCluster;

    let mut redis = RedisCluster::start().await;
    let url = redis.url();
    let app = spawn_cluster(2, |c| {
        c.shared.redis.url = url.clone();
        c.tuning.sweep_interval = Duration::from_secs(600);
    })
    .await;
    let victim = redis
        .master_of(&format!("{}chat:room:quiet", app.prefix))
        .await;
    let mut a = app.connect(0, "/ws/chat/quiet/", &User::new("ann")).await;
    let mut b = app.connect(1, "/ws/chat/quiet/", &User::new("bob")).await;
    a.say("before").await;
    assert_eq!(b.next_message().await["id"], 1);
    a.next_message().await;

    redis.kill(victim);
    redis.wait_for_failover().await;
    // Both replicas say they are ready again (the fan-out included) ...
    for replica in 0..2 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while app.get(replica, "/readyz").await.status() != 200 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{replica} not ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // ... and mean it: with no sweep to fall back on, Redis brings the message.
    for (next, from, to) in [(2, 0, 1), (3, 1, 0)] {
        let (sender, receiver) = if from == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        sender.say("after").await;
        let got = receiver
            .next_json_within(Duration::from_secs(3))
            .await
            .unwrap_or_else(|| panic!("replica {to} never got id {next}"));
        assert_eq!(got["id"], next, "{got}");
        sender.next_message().await;
    }
    app.teardown().await;
}

/// Redis down for longer than the gap wait while a socket joins with `since`:
/// the replay and then the messages swept from PostgreSQL make the room whole.
#[tokio::test(flavor = "multi_thread")]
async fn joins_with_since_while_redis_is_down_get_the_whole_room() {
    use crate::watch::{send_paced, watch_all};

    let mut redis = PrivateRedis::start().await;
    let url = redis.url();
    let app = spawn_cluster(2, |c| {
        c.shared.redis.url = url.clone();
        c.limits.rate_per_sec = 10_000;
        c.limits.burst = 10_000;
    })
    .await;
    let w0 = app.connect(0, "/ws/chat/room/", &User::new("w0")).await;
    // New sockets are refused while Redis is down (tokens cannot be checked
    // for revocation): the late joiner is already connected, elsewhere.
    let mut late0 = app.connect(0, "/ws/chat/side/", &User::new("l0")).await;
    let sender = app.connect(1, "/ws/chat/room/", &User::new("s")).await;
    let sender = send_paced(sender, "room", 30, Duration::ZERO, "a".into()).await;
    redis.stop();
    let sending = tokio::spawn(send_paced(
        sender,
        "room",
        60,
        Duration::from_millis(20),
        "b".into(),
    ));
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Replica 0 follows the room: the join starts at once and replays.
    late0
        .send_json(serde_json::json!({"type": "join", "room": "room", "since": 5}))
        .await;
    let sender = sending.await.unwrap();
    redis.restart().await;
    let sender = send_paced(sender, "room", 30, Duration::from_millis(5), "c".into()).await;
    let total = 120;
    watch_all(&app, 0, w0, "room", total).await;
    watch_all(&app, 1, sender, "room", total).await;
    let got = late0
        .receive_until(Duration::from_secs(30), |r| r.count("room") >= 115)
        .await;
    crate::client::assert_in_order_and_complete("late joiner", &got.ids["room"], 6, total);
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_rooms_first_message_after_its_slot_moves_arrives_everywhere() {
    use testkit::redis_cluster::RedisCluster;

    let redis = RedisCluster::start().await;
    let url = redis.url();
    let app = spawn_cluster(2, |c| {
        c.shared.redis.url = url.clone();
        c.tuning.sweep_interval = Duration::from_secs(600);
    })
    .await;
    let mut a = app.connect(0, "/ws/chat/quiet/", &User::new("ann")).await;
    let mut b = app.connect(1, "/ws/chat/quiet/", &User::new("bob")).await;
    a.say("before").await;
    assert_eq!(b.next_message().await["id"], 1);
    a.next_message().await;

    // A resharding moves the room's channel to another master.
    redis
        .move_slot_of(&format!("{}chat:room:quiet", app.prefix))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (next, from, to) in [(2, 0, 1), (3, 1, 0)] {
        let (sender, receiver) = if from == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        sender.say("after").await;
        let got = receiver
            .next_json_within(Duration::from_secs(3))
            .await
            .unwrap_or_else(|| panic!("replica {to} never got id {next}"));
        assert_eq!(got["id"], next, "{got}");
        sender.next_message().await;
    }
    app.teardown().await;
}
