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

/// SIGTERM while senders are mid-stream: every message a sender saw echoed is
/// stored, and every stored message was echoed to its sender before the socket
/// closed with 1001. Nothing is acknowledged and lost, nothing stored unheard.
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_under_traffic_loses_no_acknowledgement() {
    use std::collections::BTreeSet;

    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    const SENDERS: usize = 4;
    let mut app = spawn_cluster(1, |c| {
        c.limits.rate_per_sec = 10_000;
        c.limits.burst = 10_000;
    })
    .await;
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let client = app
            .connect(0, "/ws/chat/room/", &User::new(&format!("s{s}")))
            .await;
        let (mut sink, mut stream) = client.ws.split();
        let sending = tokio::spawn(async move {
            for i in 0.. {
                let frame = serde_json::json!({
                    "type": "message", "room": "room", "message": "m", "client_id": format!("{s}-{i}"),
                });
                if sink.send(Message::text(frame.to_string())).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        tasks.push(tokio::spawn(async move {
            let mut acked = BTreeSet::new();
            let mut close = None;
            while let Ok(Some(frame)) =
                tokio::time::timeout(Duration::from_secs(20), stream.next()).await
            {
                match frame {
                    Ok(Message::Text(text)) => {
                        let v: Value = serde_json::from_str(&text).unwrap();
                        assert_ne!(v["type"], "error", "sender {s} heard {v}");
                        if let Some(c) = v["client_id"]
                            .as_str()
                            .filter(|c| c.starts_with(&format!("{s}-")))
                        {
                            acked.insert(c.to_owned());
                        }
                    }
                    Ok(Message::Close(frame)) => {
                        close = frame.map(|f| u16::from(f.code));
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            sending.abort();
            (acked, close)
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    tokio::time::timeout(Duration::from_secs(20), app.replicas[0].shut_down())
        .await
        .expect("stopped in time")
        .expect("clean exit");

    let mut acked = BTreeSet::new();
    for task in tasks {
        let (mine, close) = task.await.unwrap();
        assert_eq!(close, Some(1001));
        acked.extend(mine);
    }
    // Read back what was stored, through a fresh replica on the same database.
    let mut config =
        chat::Config::with_backends(&app.db.url, &testkit::redis::url(), app.keys.public.clone());
    config.shared.redis.key_prefix = app.prefix.clone();
    app.add_replica(config).await;
    let mut stored = BTreeSet::new();
    let mut after = 0;
    loop {
        let page: Value = app
            .history(
                1,
                &format!("/v1/rooms/room/messages?after={after}&limit=100"),
                &User::new("reader"),
            )
            .await
            .json()
            .await
            .unwrap();
        let messages = page["messages"].as_array().unwrap();
        let Some(last) = messages.last() else { break };
        after = last["id"].as_i64().unwrap();
        stored.extend(
            messages
                .iter()
                .map(|m| m["client_id"].as_str().unwrap().to_owned()),
        );
    }
    assert!(
        acked.len() > 20,
        "too little traffic to prove anything: {}",
        acked.len()
    );
    let unheard: Vec<_> = stored.difference(&acked).collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        unheard.is_empty() && lost.is_empty(),
        "stored but never echoed {unheard:?}; echoed but not stored {lost:?}"
    );
    app.teardown().await;
}
