//! PostgreSQL dropping every connection (a restart, a failover) in the middle of
//! traffic on two replicas: whatever was stored reaches every socket in order,
//! once, nothing skipped (or after a 1013, on rejoining with `since`); nothing is
//! stored twice; a sender hears an echo for exactly what was stored of its own.

use std::{collections::BTreeMap, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::{Cluster, User, spawn_cluster},
    watch::watch_all,
};

fn fast(c: &mut chat::Config) {
    c.limits.rate_per_sec = 10_000;
    c.limits.burst = 10_000;
}

/// Every stored message of `room` as `(id, body)`, read through the history route.
pub async fn stored(app: &Cluster, room: &str) -> Vec<(i64, String)> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = app
            .history(
                0,
                &format!("/v1/rooms/{room}/messages?after={after}&limit=100"),
                &User::new("reader"),
            )
            .await
            .json()
            .await
            .unwrap();
        let messages = page["messages"].as_array().unwrap();
        let Some(last) = messages.last() else {
            return all;
        };
        after = last["id"].as_i64().unwrap();
        all.extend(messages.iter().map(|m| {
            (
                m["id"].as_i64().unwrap(),
                m["message"].as_str().unwrap().to_owned(),
            )
        }));
    }
}

/// Cuts every connection of the test's database, as a restart would.
async fn terminate_all(app: &Cluster) {
    app.db
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await;
}

/// What one sender heard: its own bodies echoed, and `unavailable` errors.
struct Heard {
    echoed: Vec<String>,
    unavailable: usize,
}

async fn send_and_listen(
    app: &Cluster,
    replica: usize,
    room: &'static str,
    tag: String,
    n: usize,
) -> tokio::task::JoinHandle<Heard> {
    let client = app
        .connect(replica, &format!("/ws/chat/{room}/"), &User::new(&tag))
        .await;
    let (mut sink, mut stream) = client.ws.split();
    let bodies: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
    let to_send = bodies.clone();
    tokio::spawn(async move {
        let sending = tokio::spawn(async move {
            for body in to_send {
                let frame = json!({"type": "message", "room": room, "message": body});
                if sink.send(Message::text(frame.to_string())).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(8)).await;
            }
        });
        let mut heard = Heard {
            echoed: Vec::new(),
            unavailable: 0,
        };
        // Reads until every message is answered one way or the other.
        while heard.echoed.len() + heard.unavailable < n {
            let Ok(Some(Ok(frame))) =
                tokio::time::timeout(Duration::from_secs(30), stream.next()).await
            else {
                break;
            };
            let Message::Text(text) = frame else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            match v["type"].as_str() {
                Some("message") => {
                    let body = v["message"].as_str().unwrap_or_default();
                    if bodies.iter().any(|b| b == body) {
                        heard.echoed.push(body.to_owned());
                    }
                }
                Some("error") => {
                    assert_eq!(v["code"], "unavailable", "{v}");
                    heard.unavailable += 1;
                }
                _ => {}
            }
        }
        sending.abort();
        heard
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_dropping_every_connection_under_traffic_loses_and_doubles_nothing() {
    const PER_SENDER: usize = 150;
    let app = spawn_cluster(2, fast).await;
    let mut watchers = Vec::new();
    for replica in [0, 1] {
        watchers.push((
            replica,
            app.connect(replica, "/ws/chat/room/", &User::new("w"))
                .await,
        ));
    }
    let mut senders = Vec::new();
    for (i, replica) in [0, 1, 0, 1].into_iter().enumerate() {
        senders.push(send_and_listen(&app, replica, "room", format!("s{i}"), PER_SENDER).await);
    }
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        terminate_all(&app).await;
    }
    let mut heard = Vec::new();
    for s in senders {
        heard.push(s.await.unwrap());
    }
    // Give what is still in flight time to land before reading it back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = stored(&app, "room").await;
    let total = i64::try_from(rows.len()).unwrap();
    assert_eq!(
        rows.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, body) in &rows {
        *copies.entry(body.as_str()).or_default() += 1;
    }
    let doubled: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "stored twice: {doubled:?}");
    for (i, h) in heard.iter().enumerate() {
        let tag = format!("s{i}-");
        let mine: Vec<&str> = rows
            .iter()
            .map(|(_, b)| b.as_str())
            .filter(|b| b.starts_with(&tag))
            .collect();
        let mut echoed: Vec<&str> = h.echoed.iter().map(String::as_str).collect();
        echoed.sort_unstable();
        let mut stored_mine = mine.clone();
        stored_mine.sort_unstable();
        assert_eq!(echoed, stored_mine, "sender {i}: echoes vs stored");
        assert_eq!(
            h.unavailable + mine.len(),
            PER_SENDER,
            "sender {i}: every message is either stored or refused"
        );
    }
    tracing::info!(
        "stored {total}, refused {:?}",
        heard.iter().map(|h| h.unavailable).collect::<Vec<_>>()
    );
    for (replica, w) in watchers {
        watch_all(&app, replica, w, "room", total).await;
    }
    app.teardown().await;
}
