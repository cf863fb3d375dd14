//! `join` with `since`: stored messages after `since`, then live ones, none twice,
//! none missing, even while messages keep arriving during the replay.

use serde_json::json;

use crate::helpers::{User, spawn_cluster};

fn fast(c: &mut chat::Config) {
    c.limits.rate_per_sec = 10_000;
    c.limits.burst = 10_000;
}

#[tokio::test(flavor = "multi_thread")]
async fn join_with_since_replays_then_goes_live_with_no_gap_and_no_duplicate() {
    let app = spawn_cluster(2, fast).await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut sender = app.connect(1, "/ws/chat/busy/", &ann).await;
    for i in 1..=50 {
        sender.say(&format!("m{i}")).await;
    }
    assert_eq!(sender.message_ids(50).await, (1..=50).collect::<Vec<_>>());

    // 200 more from the other replica, while bob joins with since=10.
    let burst = tokio::spawn(async move {
        for i in 51..=250 {
            sender.say(&format!("m{i}")).await;
        }
        sender.message_ids(200).await
    });
    let mut joiner = app.connect(0, "/ws/chat/", &bob).await;
    joiner
        .send_json(json!({"type": "join", "room": "busy", "since": 10}))
        .await;
    assert_eq!(
        joiner.next_json().await,
        json!({"type": "joined", "room": "busy"})
    );
    let seen = joiner.message_ids(240).await;
    assert_eq!(seen, (11..=250).collect::<Vec<_>>());
    assert_eq!(burst.await.unwrap(), (51..=250).collect::<Vec<_>>());

    // The same from the URL, as a client reconnecting after a 1013 would.
    let mut again = app.connect(1, "/ws/chat/busy/?since=245", &bob).await;
    assert_eq!(again.message_ids(5).await, (246..=250).collect::<Vec<_>>());
    again.ping().await;
    app.teardown().await;
}
