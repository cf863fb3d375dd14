//! Messages are stored before anyone sees them, retries are idempotent, and a
//! message that cannot be stored reaches no one but its sender's error frame.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{User, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_client_id_stores_once_and_echoes_to_the_sender_only() {
    let app = spawn_app().await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut a = app.connect(0, "/ws/chat/general/", &ann).await;
    let mut b = app.connect(0, "/ws/chat/general/", &bob).await;
    let send = json!({"type": "message", "room": "general", "message": "once", "client_id": "c-1"});

    a.send_json(send.clone()).await;
    let first = a.next_json().await;
    assert_eq!(b.next_json().await, first);

    a.send_json(send.clone()).await;
    assert_eq!(
        a.next_json().await,
        first,
        "the stored message is echoed again"
    );
    // Two copies in one breath land in one batch: still one message.
    a.send_json(send.clone()).await;
    a.send_json(send).await;
    assert_eq!(a.next_json().await, first);
    assert_eq!(a.next_json().await, first);

    a.say("next").await;
    let next = b.next_json().await;
    assert_eq!(next["message"], "next", "bob saw no repeat before this");
    assert!(next["id"].as_i64() > first["id"].as_i64());

    let history: serde_json::Value = app
        .history(0, "/v1/rooms/general/messages", &ann)
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(bodies, vec![json!("once"), json!("next")]);
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_postgres_gone_the_sender_hears_unavailable_and_nothing_is_delivered() {
    let app = spawn_app().await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut a = app.connect(0, "/ws/chat/general/", &ann).await;
    let mut b = app.connect(0, "/ws/chat/general/", &bob).await;
    a.say("before").await;
    a.next_message().await;
    b.next_message().await;

    app.db.drop_now().await;
    a.say("into the void").await;
    a.expect_error("unavailable").await;
    b.expect_silence(Duration::from_millis(500)).await;
    a.ping().await;
    assert_eq!(app.get(0, "/readyz").await.status(), 503);
    app.teardown().await;
}

/// The writer's own connection killed by the database between two messages
/// (a failover, an idle-timeout, an operator's `pg_terminate_backend`): the next
/// batch finds it broken, reconnects and is stored; the sender never hears
/// `unavailable`.
#[tokio::test(flavor = "multi_thread")]
async fn a_writer_connection_killed_by_the_database_is_replaced_without_failing_a_message() {
    let app = spawn_app().await;
    let mut a = app.connect(0, "/ws/chat/room/", &User::new("ann")).await;
    a.say("first").await;
    assert_eq!(a.next_message().await["id"], 1);
    app.db
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'chat-writer'",
        )
        .await;
    for i in 0..5 {
        a.say(&format!("after {i}")).await;
    }
    for id in 2..=6 {
        let frame = a.next_json().await;
        assert_eq!(
            (frame["type"].as_str(), frame["id"].as_i64()),
            (Some("message"), Some(id)),
            "{frame}"
        );
    }
    assert!(app.metric(0, "chat_store_retries_total").await >= 1.0);
    app.teardown().await;
}
