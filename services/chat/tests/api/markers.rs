//! How often a read marker is written and announced: a one-off marker at once,
//! a busy reader's at most once per `CHAT_READ_FLUSH_MS`, coalesced.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::helpers::{User, spawn_cluster};

#[tokio::test(flavor = "multi_thread")]
async fn a_one_off_marker_is_written_at_once_and_a_busy_readers_once_an_interval() {
    const EVERY: Duration = Duration::from_secs(3);
    let app = spawn_cluster(2, |c| {
        c.limits.rate_per_sec = 10_000;
        c.limits.burst = 10_000;
        c.tuning.read_flush = EVERY;
    })
    .await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut a = app.connect(0, "/ws/chat/room/", &ann).await;
    let mut b = app.connect(1, "/ws/chat/room/", &bob).await;
    // Ann's other device, on the other replica, not in the room: it hears of
    // her marker from her user channel as soon as it is written.
    let mut a2 = app.connect(1, "/ws/chat/lobby/", &ann).await;
    for text in ["one", "two", "three"] {
        b.say(text).await;
    }
    let ids = a.message_ids(3).await;
    let sent = Instant::now();
    a.send_json(json!({"type": "read", "room": "room", "id": ids[0]}))
        .await;
    let first = a2.next_event("read", |_| true).await;
    let waited = sent.elapsed();
    assert_eq!(first["id"], ids[0]);
    assert!(
        waited < EVERY / 2,
        "a one-off marker waited {waited:?}, as if for the whole interval"
    );
    // Two more at once: coalesced into one write, an interval after the first.
    for id in &ids[1..] {
        a.send_json(json!({"type": "read", "room": "room", "id": id}))
            .await;
    }
    let second = a2
        .next_event_within("read", EVERY * 3, |_| true)
        .await
        .expect("the coalesced marker");
    let gap = sent.elapsed();
    assert_eq!(
        second["id"], ids[2],
        "the newest marker, the middle one coalesced"
    );
    assert!(
        gap >= EVERY - Duration::from_millis(300),
        "the second write came {gap:?} after the first marker, inside the interval"
    );
    assert!(
        a2.next_event_within("read", Duration::from_millis(500), |_| true)
            .await
            .is_none(),
        "three markers, two writes"
    );
    app.teardown().await;
}
