//! Watching a room the way a client keeps the delivery promise: every id in
//! order, rejoining with `since` after a 1013, and checking the whole.

use std::time::Duration;

use crate::{
    client::{Client, assert_in_order_and_complete},
    helpers::{Cluster, User},
};

const LONG: Duration = Duration::from_secs(40);

/// Watches `room` until ids `1..=total` arrived, rejoining with `since` after
/// every 1013; checks each stretch and the whole. Returns how many 1013s.
pub async fn watch_all(
    app: &Cluster,
    replica: usize,
    mut client: Client,
    room: &str,
    total: i64,
) -> usize {
    let mut seen: Vec<i64> = Vec::new();
    let mut closes = 0;
    loop {
        let got = client
            .receive_until(LONG, |r| {
                r.ids
                    .get(room)
                    .and_then(|ids| ids.last())
                    .copied()
                    .unwrap_or(0)
                    >= total
            })
            .await;
        let ids = got.ids.get(room).cloned().unwrap_or_default();
        let from = seen.last().copied().unwrap_or(0) + 1;
        if let Some(&last) = ids.last() {
            assert_in_order_and_complete(&format!("{room} on replica {replica}"), &ids, from, last);
        }
        seen.extend(&ids);
        if seen.last().copied().unwrap_or(0) >= total {
            break;
        }
        let code = got.ended.as_ref().and_then(crate::client::Ended::code);
        assert_eq!(
            code,
            Some(1013),
            "stopped short of {total} at {:?} without 1013: {got:?}",
            seen.last()
        );
        closes += 1;
        let since = seen.last().copied().unwrap_or(0);
        client = rejoin(app, replica, room, since).await;
    }
    assert_in_order_and_complete(
        &format!("{room} on replica {replica}, overall"),
        &seen,
        1,
        total,
    );
    closes
}

/// Reconnects with `since`, as a client does after 1013; a socket closed again
/// before its `joined` (still too far behind) tries again.
pub async fn rejoin(app: &Cluster, replica: usize, room: &str, since: i64) -> Client {
    connect_patiently(
        app,
        replica,
        &format!("/ws/chat/{room}/?since={since}"),
        &User::new("watcher"),
    )
    .await
}

/// Connects, and connects again while the socket is closed with 1013 before
/// its `joined` (the worker is still too far behind).
pub async fn connect_patiently(app: &Cluster, replica: usize, path: &str, user: &User) -> Client {
    for _ in 0..20 {
        let mut client = app
            .try_connect(replica, path, &app.token(user))
            .await
            .expect("upgrade");
        match client.joined_or_ended().await {
            Ok(()) => return client,
            Err(ended) => assert_eq!(ended.code(), Some(1013), "{ended:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not join {path} on replica {replica}");
}

/// Sends `n` messages, one every `every`, then waits for its own echoes.
pub async fn send_paced(
    mut client: Client,
    room: impl AsRef<str>,
    n: usize,
    every: Duration,
    tag: String,
) -> Client {
    for i in 0..n {
        client.say_in(room.as_ref(), &format!("{tag}{i}")).await;
        tokio::time::sleep(every).await;
    }
    client
}
