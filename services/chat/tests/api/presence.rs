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
