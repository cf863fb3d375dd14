//! Joining a room again while joined, or leaving and joining again, in the middle
//! of traffic: the socket never stopped being in the room, so its view of it
//! stays whole — every id in order, once, nothing skipped — and every message
//! it sent is acknowledged.

use std::time::Duration;

use serde_json::json;

use crate::{
    client::assert_in_order_and_complete,
    helpers::{User, spawn_cluster},
    watch::send_paced,
};

const LONG: Duration = Duration::from_secs(30);

fn fast(c: &mut chat::Config) {
    c.limits.rate_per_sec = 10_000;
    c.limits.burst = 10_000;
    c.limits.control_rate_per_sec = 10_000;
    c.limits.control_burst = 10_000;
}

/// A client that sends `join` for a room it is in (a reconnect routine run
/// twice, a second tab's code path) must not lose the messages already on
/// their way to it: the hub had released them, the socket had not sent them yet.
#[tokio::test(flavor = "multi_thread")]
async fn joining_a_joined_room_again_without_since_skips_nothing() {
    const PER_SENDER: usize = 150;
    let app = spawn_cluster(2, fast).await;
    let watcher = app.connect(0, "/ws/chat/room/", &User::new("w")).await;
    let mut senders = Vec::new();
    for replica in [0, 1] {
        let c = app
            .connect(
                replica,
                "/ws/chat/room/",
                &User::new(&format!("s{replica}")),
            )
            .await;
        senders.push(tokio::spawn(send_paced(
            c,
            "room",
            PER_SENDER,
            Duration::from_millis(2),
            format!("{replica}:"),
        )));
    }
    let total = 2 * PER_SENDER;
    let join = json!({"type": "join", "room": "room"});
    let got = watcher
        .send_paced_while_receiving(join, 300, Duration::from_millis(3), LONG, |r| {
            r.ids.get("room").and_then(|ids| ids.last()).copied() >= Some(total as i64)
        })
        .await;
    for s in senders {
        s.await.unwrap();
    }
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert!(got.ended.is_none(), "{:?}", got.ended);
    assert_in_order_and_complete(
        "a socket that joined its room again",
        &got.ids["room"],
        1,
        total as i64,
    );
    app.teardown().await;
}
