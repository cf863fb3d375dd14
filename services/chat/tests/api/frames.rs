//! The frame tables of the contract, both directions.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::helpers::{User, spawn_app, spawn_cluster};

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_first_hears_joined_for_its_url_room() {
    let app = spawn_app().await;
    let user = User::new("ann");
    let mut lobby = app
        .try_connect(0, "/ws/chat/", &app.token(&user))
        .await
        .unwrap();
    assert_eq!(
        lobby.next_json().await,
        json!({"type": "joined", "room": "lobby"})
    );
    let mut room = app
        .try_connect(0, "/ws/chat/general/", &app.token(&user))
        .await
        .unwrap();
    assert_eq!(
        room.next_json().await,
        json!({"type": "joined", "room": "general"})
    );
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_and_typed_messages_reach_everyone_in_the_room_sender_included() {
    let app = spawn_app().await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut a = app.connect(0, "/ws/chat/general/", &ann).await;
    let mut b = app.connect(0, "/ws/chat/general/", &bob).await;

    a.say("hello").await;
    let seen_by_a = a.next_json().await;
    let seen_by_b = b.next_json().await;
    assert_eq!(seen_by_a, seen_by_b);
    assert_eq!(seen_by_a["type"], "message");
    assert_eq!(seen_by_a["room"], "general");
    assert_eq!(seen_by_a["user"], "ann");
    assert_eq!(seen_by_a["user_id"], ann.id.to_string());
    assert_eq!(seen_by_a["message"], "hello");
    assert_eq!(seen_by_a["id"], 1);
    assert!(seen_by_a["client_id"].is_null());
    let timestamp = seen_by_a["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
        "{timestamp}"
    );

    b.send_json(
        json!({"type": "message", "room": "general", "message": "hi ann", "client_id": "c-1"}),
    )
    .await;
    let reply = a.next_json().await;
    assert_eq!(reply, b.next_json().await);
    assert_eq!(
        (reply["id"].as_i64(), &reply["client_id"]),
        (Some(2), &json!("c-1"))
    );

    // Joining a second room on the same socket, sending there, leaving it.
    a.send_json(json!({"type": "join", "room": "random"})).await;
    assert_eq!(
        a.next_json().await,
        json!({"type": "joined", "room": "random"})
    );
    a.say_in("random", "elsewhere").await;
    let elsewhere = a.next_json().await;
    assert_eq!(
        (&elsewhere["room"], &elsewhere["id"]),
        (&json!("random"), &json!(1))
    );
    a.send_json(json!({"type": "leave", "room": "random"}))
        .await;
    assert_eq!(
        a.next_json().await,
        json!({"type": "left", "room": "random"})
    );
    b.expect_silence(Duration::from_millis(300)).await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_frame_leaves_the_socket_open() {
    let app = spawn_app().await;
    let ann = User::new("ann");
    let mut a = app.connect(0, "/ws/chat/", &ann).await;
    let strangers = chat::domain::room::direct_room_name(Uuid::new_v4(), Uuid::new_v4());

    a.send_text("{not json").await;
    a.expect_error("invalid_json").await;
    a.send_json(json!({"type": "dance"})).await;
    a.expect_error("invalid_request").await;
    a.send_json(json!({"type": "message", "room": "lobby", "message": 5}))
        .await;
    a.expect_error("invalid_request").await;
    a.send_json(
        json!({"type": "message", "room": "lobby", "message": "x", "client_id": "c".repeat(65)}),
    )
    .await;
    a.expect_error("invalid_request").await;
    a.ws.send(Message::binary(b"{}".to_vec())).await.unwrap();
    a.expect_error("invalid_request").await;
    a.say_in("elsewhere", "hi").await;
    a.expect_error("not_joined").await;
    a.send_json(json!({"type": "join", "room": "Bad Room"}))
        .await;
    a.expect_error("invalid_room").await;
    a.send_json(json!({"type": "join", "room": strangers}))
        .await;
    a.expect_error("forbidden").await;
    a.say(&"é".repeat(4001)).await;
    a.expect_error("message_too_long").await;
    a.say(" \n\t").await;
    a.expect_error("empty_message").await;
    a.send_json(json!({"type": "leave", "room": "lobby"})).await;
    assert_eq!(
        a.next_json().await,
        json!({"type": "left", "room": "lobby"})
    );
    a.say("anyone?").await;
    a.expect_error("not_joined").await;
    a.send_json(json!({"type": "leave", "room": "lobby"})).await;
    a.expect_error("not_joined").await;

    a.ping().await;
    // Exactly the maximum is fine.
    a.send_json(json!({"type": "join", "room": "lobby"})).await;
    assert_eq!(a.next_json().await["type"], "joined");
    a.say(&"é".repeat(4000)).await;
    assert_eq!(a.next_json().await["type"], "message");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_over_chat_rate_hear_rate_limited_while_other_frames_go_on() {
    let app = spawn_cluster(1, |c| {
        c.limits.rate_per_sec = 1;
        c.limits.burst = 3;
    })
    .await;
    let mut a = app.connect(0, "/ws/chat/", &User::new("ann")).await;
    for i in 0..4 {
        a.say(&format!("m{i}")).await;
    }
    let mut frames = Vec::new();
    for _ in 0..4 {
        frames.push(a.next_json().await);
    }
    let limited = frames
        .iter()
        .filter(|f| f["code"] == "rate_limited")
        .count();
    let stored = frames.iter().filter(|f| f["type"] == "message").count();
    assert_eq!((stored, limited), (3, 1), "{frames:?}");
    // Pings are not messages: their own bucket is full.
    a.ping().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    a.say("again").await;
    assert_eq!(a.next_message().await["message"], "again");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn other_frames_have_a_limit_of_their_own_that_spares_messages() {
    let app = spawn_cluster(1, |c| {
        c.limits.control_rate_per_sec = 1;
        c.limits.control_burst = 3;
    })
    .await;
    let mut a = app.connect(0, "/ws/chat/", &User::new("ann")).await;
    for _ in 0..3 {
        a.send_json(json!({"type": "ping"})).await;
    }
    // Malformed frames count against the same bucket.
    a.send_text("{not json").await;
    for _ in 0..3 {
        assert_eq!(a.next_json().await["type"], "pong");
    }
    a.expect_error("rate_limited").await;
    a.say("still heard").await;
    assert_eq!(a.next_message().await["message"], "still heard");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    a.ping().await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_websocket_pings_gets_pongs_only_within_the_limit() {
    let app = spawn_cluster(1, |c| {
        c.limits.control_rate_per_sec = 1;
        c.limits.control_burst = 3;
    })
    .await;
    let mut a = app.connect(0, "/ws/chat/", &User::new("ann")).await;
    for n in 0..20u8 {
        a.ws.send(Message::Ping(vec![n].into()))
            .await
            .expect("ping sent");
    }
    let mut pongs = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut a.ws)).await
    {
        if let Message::Pong(payload) = frame {
            pongs.push(payload.to_vec());
        }
    }
    assert_eq!(pongs, [[0], [1], [2]], "the burst's pongs, then none");
    a.say("still open").await;
    assert_eq!(a.next_message().await["message"], "still open");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_over_max_frame_bytes_closes_with_1009() {
    let app = spawn_cluster(1, |c| c.limits.max_frame_bytes = 1024).await;
    let mut a = app.connect(0, "/ws/chat/", &User::new("ann")).await;
    a.say(&"x".repeat(900)).await;
    assert_eq!(a.next_json().await["type"], "message");
    a.say(&"x".repeat(2000)).await;
    assert_eq!(
        a.ended_within(Duration::from_secs(5)).await.code(),
        Some(1009)
    );
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_pings_and_drops_a_socket_that_stops_answering() {
    let app = spawn_cluster(1, |c| {
        c.tuning.heartbeat_interval = Duration::from_millis(300);
        c.tuning.client_timeout = Duration::from_secs(1);
    })
    .await;
    let mut lively = app.connect(0, "/ws/chat/", &User::new("ann")).await;
    let mut silent = app.connect(0, "/ws/chat/", &User::new("bob")).await;

    // Reading answers pings (tungstenite pongs automatically); not reading does not.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1800);
    let mut pinged = false;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(Ok(Message::Ping(_)))) =
            tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut lively.ws)).await
        {
            pinged = true;
        }
    }
    assert!(pinged, "the server never pinged");
    lively.ping().await;
    silent.ended_within(Duration::from_secs(3)).await;
    app.teardown().await;
}
