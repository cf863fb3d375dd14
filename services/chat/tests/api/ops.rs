//! What an operator relies on: probes, metrics, a clean stop.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{User, spawn_app, spawn_cluster};

#[tokio::test(flavor = "multi_thread")]
async fn probes_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get(0, "/healthz").await.status(), 200);
    let ready = app.get(0, "/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["fanout"], "ok");

    let mut a = app.connect(0, "/ws/chat/", &User::new("ann")).await;
    a.say("counted").await;
    a.next_message().await;
    // The counters move just after the hand-off the client already saw.
    app.wait_metric(0, "chat_messages_delivered_total", 1.0)
        .await;
    app.wait_metric(0, "chat_fanout_latency_seconds_count", 1.0)
        .await;
    let text = app.get(0, "/metrics").await.text().await.unwrap();
    for name in [
        "chat_open_sockets 1",
        "chat_rooms_subscribed 1",
        "chat_messages_in_total 1",
        "chat_messages_delivered_total 1",
        "chat_store_batch_size_count 1",
        "chat_store_batch_seconds_count 1",
        "chat_fanout_latency_seconds_count 1",
        "chat_slow_consumer_closes_total 0",
        "chat_redis_reconnects_total 0",
    ] {
        assert!(text.contains(name), "missing {name:?} in\n{text}");
    }
    let missing = app.get(0, "/nope").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_closes_sockets_with_1001_and_stops_accepting() {
    let mut app = spawn_cluster(1, |_| {}).await;
    let mut a = app.connect(0, "/ws/chat/", &User::new("ann")).await;
    let mut b = app.connect(0, "/ws/chat/general/", &User::new("bob")).await;
    let port = app.replicas[0].port;

    let stopping = {
        let replica = &mut app.replicas[0];
        tokio::time::timeout(Duration::from_secs(15), replica.shut_down())
    };
    let (stopped, a_end, b_end) = tokio::join!(
        stopping,
        a.ended_within(Duration::from_secs(5)),
        b.ended_within(Duration::from_secs(5)),
    );
    assert_eq!(a_end.code(), Some(1001), "{a_end:?}");
    assert_eq!(b_end.code(), Some(1001), "{b_end:?}");
    stopped.expect("stopped in time").expect("clean exit");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
    app.teardown().await;
}
