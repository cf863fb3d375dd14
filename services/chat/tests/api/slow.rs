//! A socket that never reads must not slow its room down: the others get every
//! message in order, promptly, and only the silent one is dropped.

use std::time::Duration;

use serde_json::json;
use tokio::net::TcpSocket;

use crate::{
    client::{Client, assert_in_order_and_complete},
    helpers::{Cluster, User, spawn_cluster},
};

/// A client with a tiny receive window that never reads.
async fn stalled(app: &Cluster, replica: usize, path: &str, user: &User) -> Client {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(
            format!("127.0.0.1:{}", app.replicas[replica].port)
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    let url = format!("{}?token={}", app.ws_url(replica, path), app.token(user));
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    let mut client = Client { ws };
    assert_eq!(client.next_json().await["type"], "joined");
    client
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_that_never_reads_slows_no_one_else_in_its_room() {
    const MESSAGES: usize = 150;
    let app = spawn_cluster(2, |c| {
        c.limits.rate_per_sec = 10_000;
        c.limits.burst = 10_000;
        c.shared.workers = 1;
        c.tuning.heartbeat_interval = Duration::from_secs(1);
        c.tuning.client_timeout = Duration::from_secs(3);
    })
    .await;
    // Stalled sockets on both replicas, on the same worker as the readers.
    let mut stalled_sockets = Vec::new();
    for i in 0..4 {
        stalled_sockets.push(stalled(&app, i % 2, "/ws/chat/busy/", &User::new("slow")).await);
    }
    let mut readers = Vec::new();
    for i in 0..6 {
        readers.push(
            app.connect(i % 2, "/ws/chat/busy/", &User::new(&format!("r{i}")))
                .await,
        );
    }
    let sender = app.connect(0, "/ws/chat/busy/", &User::new("s")).await;
    let body = "x".repeat(3000);
    let frames = (0..MESSAGES).map(|_| json!({"message": body})).collect();
    let started = tokio::time::Instant::now();
    let sending = tokio::spawn(async move {
        sender
            .send_while_receiving(frames, Duration::from_secs(30), |r| {
                r.count("busy") >= MESSAGES
            })
            .await
    });
    let total = i64::try_from(MESSAGES).unwrap();
    let watching: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            tokio::spawn(async move {
                let got = r
                    .receive_until(Duration::from_secs(30), |got| got.count("busy") >= MESSAGES)
                    .await;
                // Reading on answers the server's pings: this one stays.
                tokio::spawn(
                    async move { r.receive_until(Duration::from_secs(30), |_| false).await },
                );
                got
            })
        })
        .collect();
    for (i, w) in watching.into_iter().enumerate() {
        let got = w.await.unwrap();
        assert!(got.ended.is_none(), "reader {i}: {:?}", got.ended);
        assert_in_order_and_complete(&format!("reader {i}"), &got.ids["busy"], 1, total);
    }
    let elapsed = started.elapsed();
    let sent = sending.await.unwrap();
    assert!(sent.errors.is_empty(), "{:?}", sent.errors);
    assert!(
        elapsed < Duration::from_secs(10),
        "the readers took {elapsed:?} for {MESSAGES} messages"
    );
    // The stalled sockets answer no ping: each replica drops its two, and
    // only them (the readers read on; the sender is gone).
    for (replica, others) in [(0, 3.0), (1, 3.0)] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let open = app.metric(replica, "chat_open_sockets").await;
            if (open - others).abs() < 0.5 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "replica {replica} still has {open} sockets open"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    drop(stalled_sockets);
    app.teardown().await;
}

/// Within CHAT_RATE and CHAT_BURST as configured by default, two sockets of
/// one user each send a burst of the largest messages the limits allow (4 000
/// characters, each 6 bytes once escaped in JSON). Readers that keep up — all
/// on one machine, reading as fast as they can — must not be closed with 1013
/// for it: otherwise anyone can empty any room, again and again.
#[tokio::test(flavor = "multi_thread")]
async fn two_sockets_bursting_within_their_limits_close_no_reader_that_keeps_up() {
    const BURST: usize = 40;
    let app = spawn_cluster(2, |_| {}).await;
    let mut readers = Vec::new();
    for i in 0..6 {
        readers.push(
            app.connect(i % 2, "/ws/chat/busy/", &User::new(&format!("r{i}")))
                .await,
        );
    }
    let mallory = User::new("mallory");
    let body = "\u{1}".repeat(4000);
    let mut senders = Vec::new();
    for replica in [0, 0] {
        senders.push(app.connect(replica, "/ws/chat/busy/", &mallory).await);
    }
    let mut sending = Vec::new();
    for sender in senders {
        let frames = (0..BURST).map(|_| json!({"message": body})).collect();
        sending.push(tokio::spawn(async move {
            sender
                .send_while_receiving(frames, Duration::from_secs(30), |r| {
                    r.count("busy") >= 2 * BURST
                })
                .await
        }));
    }
    let total = i64::try_from(2 * BURST).unwrap();
    // Every reader reads as fast as it can, all at once.
    let reading: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            tokio::spawn(async move {
                r.receive_until(Duration::from_secs(30), |got| {
                    got.count("busy") >= 2 * BURST
                })
                .await
            })
        })
        .collect();
    for (i, r) in reading.into_iter().enumerate() {
        let got = r.await.unwrap();
        assert!(got.ended.is_none(), "reader {i}: {:?}", got.ended);
        assert_in_order_and_complete(&format!("reader {i}"), &got.ids["busy"], 1, total);
    }
    for s in sending {
        let got = s.await.unwrap();
        assert!(got.errors.is_empty(), "{:?}", got.errors);
    }
    app.teardown().await;
}
