//! Direct rooms belong to their two users.

use serde_json::json;

use chat::domain::room::direct_room_name;

use crate::helpers::{User, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn direct_rooms_admit_only_their_two_users() {
    let app = spawn_app().await;
    let (ann, bob, eve) = (User::new("ann"), User::new("bob"), User::new("eve"));
    let room = direct_room_name(ann.id, bob.id);
    let (lo, hi) = room.trim_start_matches("dm.").split_once('.').unwrap();
    let reversed = format!("dm.{hi}.{lo}");

    let mut a = app.connect(0, &format!("/ws/chat/{room}/"), &ann).await;
    let mut b = app.connect(0, "/ws/chat/", &bob).await;
    b.send_json(json!({"type": "join", "room": room})).await;
    assert_eq!(b.next_json().await, json!({"type": "joined", "room": room}));
    a.say("psst").await;
    assert_eq!(a.next_message().await["message"], "psst");
    assert_eq!(b.next_message().await["message"], "psst");

    // Eve: refused on the URL, on join, and on history.
    let refused = app
        .try_connect(0, &format!("/ws/chat/{room}/"), &app.token(&eve))
        .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let mut e = app.connect(0, "/ws/chat/", &eve).await;
    e.send_json(json!({"type": "join", "room": room})).await;
    e.expect_error("forbidden").await;
    e.say_in(&room, "let me in").await;
    e.expect_error("not_joined").await;
    let history = app
        .history(0, &format!("/v1/rooms/{room}/messages"), &eve)
        .await;
    assert_eq!(history.status(), 403);
    let body: serde_json::Value = history.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let mine = app
        .history(0, &format!("/v1/rooms/{room}/messages"), &bob)
        .await;
    assert_eq!(mine.status(), 200);

    // The ids in the other order are not a room at all.
    a.send_json(json!({"type": "join", "room": reversed})).await;
    a.expect_error("invalid_room").await;
    let history = app
        .history(0, &format!("/v1/rooms/{reversed}/messages"), &ann)
        .await;
    assert_eq!(history.status(), 400);
    let body: serde_json::Value = history.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_room");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_direct_room_of_one_user_with_themselves_is_an_invalid_room() {
    let app = spawn_app().await;
    let ann = User::new("ann");
    let own = format!("dm.{0}.{0}", ann.id);
    let mut a = app.connect(0, "/ws/chat/", &ann).await;
    a.send_json(json!({"type": "join", "room": own})).await;
    a.expect_error("invalid_room").await;
    let url = app
        .try_connect(0, &format!("/ws/chat/{own}/"), &app.token(&ann))
        .await;
    match url {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 400),
        other => panic!("expected 400, got {:?}", other.map(|_| "a socket")),
    }
    app.teardown().await;
}
