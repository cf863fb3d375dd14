//! Presence counted over every replica: a user is online from their first
//! socket in a room on any replica to their last, and a replica that dies stops
//! counting within `PRESENCE_TTL`.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};

use crate::helpers::{Cluster, User, spawn_cluster};

const TTL: Duration = Duration::from_secs(3);

fn short_ttl(c: &mut chat::Config) {
    c.tuning.presence_ttl = TTL;
}

async fn present(app: &Cluster, replica: usize, room: &str) -> Vec<String> {
    let body: Value = app
        .history(
            replica,
            &format!("/v1/rooms/{room}/presence"),
            &User::new("asker"),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut names: Vec<String> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Waits until `n` replicas vouch for `user` in `room` (read from Redis).
async fn wait_replicas(app: &Cluster, room: &str, user: &User, n: usize) {
    use deadpool_redis::redis::AsyncCommands;
    let key = format!("{}chat:presence:{room}", app.prefix);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut conn = app.redis.clone();
        let entry: Option<String> = conn.hget(&key, user.id.to_string()).await.unwrap();
        let count = entry
            .and_then(|e| serde_json::from_str::<Value>(&e).ok())
            .and_then(|e| e["r"].as_array().map(Vec::len))
            .unwrap_or(0);
        if count == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} replicas, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn presence(room: &str, user: &User, online: bool) -> Value {
    json!({"type": "presence", "room": room, "user_id": user.id, "user": user.name, "online": online})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_is_online_from_the_first_socket_on_any_replica_to_the_last() {
    let app = spawn_cluster(2, short_ttl).await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut b = app.connect(1, "/ws/chat/room/", &bob).await;
    let a0 = app.connect(0, "/ws/chat/room/", &ann).await;
    assert_eq!(
        b.next_event("presence", |p| p["user"] == "ann").await,
        presence("room", &ann, true)
    );
    assert_eq!(present(&app, 0, "room").await, vec!["ann", "bob"]);

    // A second socket on the other replica: no news, and closing the first
    // leaves ann online through the second.
    let a1 = app.connect(1, "/ws/chat/room/", &ann).await;
    // Once replica 1 has stated ann too, she is online through both.
    wait_replicas(&app, "room", &ann, 2).await;
    drop(a0);
    assert!(
        b.next_event_within("presence", Duration::from_millis(800), |p| p["user"]
            == "ann")
            .await
            .is_none(),
        "ann is still here through replica 1"
    );
    assert_eq!(present(&app, 1, "room").await, vec!["ann", "bob"]);
    drop(a1);
    assert_eq!(
        b.next_event("presence", |p| p["user"] == "ann").await,
        presence("room", &ann, false)
    );
    assert_eq!(present(&app, 0, "room").await, vec!["bob"]);
    // A direct room's presence is its two users' business only.
    let dm = chat::domain::room::direct_room_name(ann.id, bob.id);
    assert_eq!(
        app.history(0, &format!("/v1/rooms/{dm}/presence"), &User::new("eve"))
            .await
            .status(),
        403
    );
    app.teardown().await;
}

/// A chat process that is killed however the test ends.
struct Doomed(std::process::Child);

impl Drop for Doomed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A replica killed outright (SIGKILL: no goodbye) stops vouching for its
/// users; another replica sees their entries lapse and announces them gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_replicas_users_go_offline_within_the_presence_ttl() {
    let app = spawn_cluster(1, short_ttl).await;
    let port = testkit::redis_server::free_port();
    let keys: Vec<String> = app
        .keys
        .public
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut doomed = Doomed(
        std::process::Command::new(env!("CARGO_BIN_EXE_chat"))
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", &app.db.url)
            .env("REDIS_URL", testkit::redis::url())
            .env("REDIS_KEY_PREFIX", &app.prefix)
            .env("JWT_PUBLIC_KEYS", keys.join(","))
            .env("PRESENCE_TTL", TTL.as_secs().to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the chat binary starts"),
    );
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !reqwest::get(&ready).await.is_ok_and(|r| r.status() == 200) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the process never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut b = app.connect(0, "/ws/chat/room/", &bob).await;
    let url = format!(
        "ws://127.0.0.1:{port}/ws/chat/room/?token={}",
        app.token(&ann)
    );
    let mut a = crate::helpers::connect_request(url).await.expect("upgrade");
    assert_eq!(a.next_json().await["type"], "joined");
    assert_eq!(
        b.next_event("presence", |p| p["user"] == "ann").await,
        presence("room", &ann, true)
    );

    doomed.0.kill().expect("SIGKILL");
    let _ = doomed.0.wait();
    let killed = tokio::time::Instant::now();
    let gone = b
        .next_event_within("presence", TTL + Duration::from_secs(2), |p| {
            p["user"] == "ann"
        })
        .await
        .expect("ann announced offline");
    assert_eq!(gone, presence("room", &ann, false));
    assert!(
        killed.elapsed() <= TTL + Duration::from_millis(500),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(present(&app, 0, "room").await, vec!["bob"]);
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_room_past_the_event_limit_is_quiet_but_its_presence_still_answers() {
    let app = spawn_cluster(2, |c| {
        short_ttl(c);
        c.tuning.presence_events_max = 2;
    })
    .await;
    let (ann, bob, cy) = (User::new("ann"), User::new("bob"), User::new("cy"));
    let mut a = app.connect(0, "/ws/chat/crowd/", &ann).await;
    let _b = app.connect(1, "/ws/chat/crowd/", &bob).await;
    assert_eq!(
        a.next_event("presence", |p| p["user"] == "bob").await,
        presence("crowd", &bob, true)
    );
    let _c = app.connect(1, "/ws/chat/crowd/", &cy).await;
    assert!(
        a.next_event_within("presence", Duration::from_millis(800), |_| true)
            .await
            .is_none(),
        "three present: past the limit of two"
    );
    assert_eq!(present(&app, 0, "crowd").await, vec!["ann", "bob", "cy"]);
    app.teardown().await;
}

/// Redis restarted empty: each replica states its users again.
#[tokio::test(flavor = "multi_thread")]
async fn presence_comes_back_after_redis_restarts_empty() {
    let mut redis = testkit::redis_server::PrivateRedis::start().await;
    let url = redis.url();
    let app = spawn_cluster(2, |c| {
        short_ttl(c);
        c.shared.redis.url = url.clone();
    })
    .await;
    let _a = app.connect(0, "/ws/chat/room/", &User::new("ann")).await;
    let _b = app.connect(1, "/ws/chat/room/", &User::new("bob")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while present(&app, 0, "room").await != vec!["ann", "bob"] {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    redis.restart().await;
    let deadline = tokio::time::Instant::now() + TTL * 2;
    loop {
        let now = app
            .history(0, "/v1/rooms/room/presence", &User::new("asker"))
            .await;
        if now.status() == 200 {
            let body: Value = now.json().await.unwrap();
            if body["users"].as_array().is_some_and(|u| u.len() == 2) {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "presence never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.teardown().await;
}

/// `CHAT_ROOM_RECEIPTS_PER_SEC` is the room's, not each replica's: with readers
/// on both replicas, each announces its share by the users it holds. Spent
/// whole on each replica, 16 receipts at 4 a second came within about 1 s.
#[tokio::test(flavor = "multi_thread")]
async fn a_rooms_receipt_pace_is_shared_by_its_replicas() {
    let app = spawn_cluster(2, |c| {
        short_ttl(c);
        c.limits.rate_per_sec = 10_000;
        c.limits.burst = 10_000;
        c.tuning.read_flush = Duration::from_millis(50);
        c.tuning.room_receipts_per_sec = 4;
    })
    .await;
    let watcher = User::new("watcher");
    let mut w = app.connect(1, "/ws/chat/shared/", &watcher).await;
    let mut readers = Vec::new();
    for i in 0..16 {
        let user = User::new(&format!("reader{i:02}"));
        let socket = app.connect(i % 2, "/ws/chat/shared/", &user).await;
        readers.push((user, socket));
    }
    // Both replicas have counted everybody, and heartbeat once since (a third
    // of the TTL): each knows its share.
    for replica in 0..2 {
        while present(&app, replica, "shared").await.len() < 17 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(TTL / 3 + Duration::from_millis(300)).await;
    w.say("hello").await;
    let id = w.message_ids(1).await[0];
    for (_, socket) in &mut readers {
        assert_eq!(socket.message_ids(1).await, [id]);
        socket
            .send_json(json!({"type": "read", "room": "shared", "id": id}))
            .await;
    }
    let mut seen = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut first = None;
    while seen.len() < readers.len() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(receipt) = w.next_event_within("read", left, |_| true).await else {
            panic!("receipts missing: {} of 16 arrived", seen.len());
        };
        first.get_or_insert_with(tokio::time::Instant::now);
        assert!(
            seen.insert(receipt["user_id"].as_str().unwrap().to_owned()),
            "a receipt twice"
        );
    }
    // About 4 at once (each replica's bucket), then 4 a second in all: the last
    // of 16 comes 3 s after the first; load only makes it later.
    let spread = first.unwrap().elapsed();
    assert!(
        spread >= Duration::from_millis(2200),
        "16 receipts in {spread:?}: more than the room's 4 a second"
    );
    app.teardown().await;
}
