//! Two replicas behave as one chat.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Client, User, spawn_cluster};

#[tokio::test(flavor = "multi_thread")]
async fn messages_cross_replicas_and_rooms_stay_apart() {
    let app = spawn_cluster(2, |_| {}).await;
    let (ann, bob, cy) = (User::new("ann"), User::new("bob"), User::new("cy"));
    let mut a = app.connect(0, "/ws/chat/one/", &ann).await;
    let mut b = app.connect(1, "/ws/chat/one/", &bob).await;
    let mut c = app.connect(1, "/ws/chat/two/", &cy).await;

    a.say("from replica 0").await;
    let seen = b.next_json().await;
    assert_eq!(
        (&seen["message"], &seen["room"]),
        (&json!("from replica 0"), &json!("one"))
    );
    assert_eq!(a.next_json().await, seen);
    b.say("from replica 1").await;
    assert_eq!(a.next_message().await["message"], "from replica 1");

    c.say("only two").await;
    assert_eq!(c.next_message().await["message"], "only two");
    a.expect_silence(Duration::from_millis(300)).await;
    b.next_message().await;
    b.expect_silence(Duration::from_millis(100)).await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_sockets_over_two_replicas_each_receive_all_two_hundred_messages() {
    const SOCKETS: usize = 200;
    let app = spawn_cluster(2, |_| {}).await;
    let mut clients = Vec::with_capacity(SOCKETS);
    for i in 0..SOCKETS {
        clients.push(
            app.connect(i % 2, "/ws/chat/crowd/", &User::new(&format!("u{i}")))
                .await,
        );
    }
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            tokio::spawn(async move {
                client.say(&format!("hello from {i}")).await;
                let mut ids = client.message_ids(SOCKETS).await;
                ids.sort_unstable();
                ids
            })
        })
        .collect();
    let expected: Vec<i64> = (1..=i64::try_from(SOCKETS).unwrap()).collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), expected);
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_that_falls_too_far_behind_is_closed_with_1013() {
    let app = spawn_cluster(1, |c| {
        c.tuning.outbox_capacity = 8;
        c.limits.max_message_chars = 60_000;
        c.limits.rate_per_sec = 10_000;
        c.limits.burst = 10_000;
    })
    .await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    // A reader with a tiny receive window that never reads.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(
            format!("127.0.0.1:{}", app.replicas[0].port)
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    let url = format!(
        "{}?token={}",
        app.ws_url(0, "/ws/chat/busy/"),
        app.token(&bob)
    );
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    let mut slow = Client { ws };
    assert_eq!(slow.next_json().await["type"], "joined");

    let big = json!({ "message": "x".repeat(50_000) }).to_string();
    // The sender's own echoes can overflow its outbox too when the machine is busy
    // and its reader lags: then it reconnects and goes on, as a client would.
    let mut sent = 0;
    while sent < 300 {
        let sender = app.connect(0, "/ws/chat/busy/", &ann).await;
        let (mut write, mut read) = sender.ws.split();
        let drain = tokio::spawn(async move { while read.next().await.is_some() {} });
        while sent < 300 {
            if write.send(Message::text(big.clone())).await.is_err() {
                break;
            }
            sent += 1;
        }
        drain.abort();
    }
    app.wait_metric(0, "chat_slow_consumer_closes_total", 1.0)
        .await;
    let ended = slow.ended_within(Duration::from_secs(20)).await;
    assert_eq!(ended.code(), Some(1013), "{ended:?}");
    app.teardown().await;
}
