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

/// A client that leaves and comes back with `since` = the last id it saw, over
/// and over while two replicas' senders keep the room busy: its stream, put
/// together, is every id once in order (each rejoin's replay races the live
/// messages of the same ids, and the catch-up it interrupts).
#[tokio::test(flavor = "multi_thread")]
async fn leaving_and_rejoining_with_since_under_traffic_skips_and_repeats_nothing() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    const PER_SENDER: usize = 200;
    let app = spawn_cluster(2, fast).await;
    for replica in [0, 1] {
        let mut client = app
            .connect(replica, "/ws/chat/room/", &User::new("churner"))
            .await;
        // Another room keeps the socket open while it is out of this one.
        client.join("side").await;
        let mut senders = Vec::new();
        for s in [0, 1] {
            let c = app
                .connect(s, "/ws/chat/room/", &User::new(&format!("s{s}")))
                .await;
            senders.push(tokio::spawn(send_paced(
                c,
                "room",
                PER_SENDER,
                Duration::from_millis(3),
                format!("{s}:"),
            )));
        }
        let total = i64::try_from(2 * PER_SENDER).unwrap() * (i64::try_from(replica).unwrap() + 1);
        let first = total - i64::try_from(2 * PER_SENDER).unwrap() + 1;
        let (mut sink, mut stream) = client.ws.split();
        let mut seen: Vec<i64> = Vec::new();
        let mut inside = true;
        let mut frames = 0;
        let deadline = tokio::time::Instant::now() + LONG;
        while seen.last().copied().unwrap_or(0) < total {
            let frame = tokio::time::timeout_at(deadline, stream.next())
                .await
                .expect("the room went quiet before every id arrived")
                .unwrap()
                .unwrap();
            let Message::Text(text) = frame else { continue };
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            match (v["type"].as_str(), v["room"].as_str()) {
                (Some("message"), Some("room")) => {
                    let id = v["id"].as_i64().unwrap();
                    if id >= first {
                        seen.push(id);
                    }
                    frames += 1;
                    if inside && frames % 25 == 0 {
                        inside = false;
                        let leave = json!({"type": "leave", "room": "room"});
                        sink.send(Message::text(leave.to_string())).await.unwrap();
                    }
                }
                (Some("left"), Some("room")) => {
                    let since = seen.last().copied().unwrap_or(first - 1);
                    let join = json!({"type": "join", "room": "room", "since": since});
                    sink.send(Message::text(join.to_string())).await.unwrap();
                }
                (Some("joined"), Some("room")) => inside = true,
                (Some("error"), _) => panic!("{v}"),
                _ => {}
            }
        }
        for s in senders {
            s.await.unwrap();
        }
        assert_in_order_and_complete(
            &format!("a socket leaving and rejoining on replica {replica}"),
            &seen,
            first,
            total,
        );
    }
    app.teardown().await;
}

/// A socket that left a room while one of its messages there was stored but
/// held back for the room's order (a gap before it) never gets that echo: the
/// room is not its any more. It must not keep waiting for it — a replica
/// shutting down would hold the socket open for all of `CHAT_DRAIN_SECS`.
#[tokio::test(flavor = "multi_thread")]
async fn an_echo_a_left_room_will_never_send_does_not_hold_up_shutdown() {
    let mut app = spawn_cluster(1, |c| {
        // The gap below stays open this long before it is read.
        c.tuning.gap_wait = Duration::from_secs(2);
        c.tuning.drain_timeout = Duration::from_secs(10);
    })
    .await;
    let mut ann = app.connect(0, "/ws/chat/room/", &User::new("ann")).await;
    ann.join("side").await;
    ann.say_in("room", "first").await;
    assert_eq!(ann.next_message().await["id"], 1);
    // Id 2 stored behind the replica's back (its publish lost): 3 waits for it.
    app.db
        .execute(
            "UPDATE rooms SET last_message_id = 2 WHERE name = 'room'; \
             INSERT INTO messages (room, id, user_id, user_name, body) \
             VALUES ('room', 2, gen_random_uuid(), 'x', 'unpublished')",
        )
        .await;
    ann.say_in("room", "third").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ann.send_json(json!({"type": "leave", "room": "room"}))
        .await;
    assert_eq!(ann.next_json().await["type"], "left");

    let started = tokio::time::Instant::now();
    let (stopped, end) = tokio::join!(
        app.replicas[0].shut_down(),
        ann.ended_within(Duration::from_secs(15)),
    );
    stopped.unwrap();
    assert_eq!(end.code(), Some(1001), "{end:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    app.teardown().await;
}
