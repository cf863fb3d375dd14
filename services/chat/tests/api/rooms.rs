//! A user's rooms, read markers and receipts, typing, `member`: across two
//! replicas, and never in the way of the message stream.

use std::time::Duration;

use serde_json::{Value, json};

use chat::domain::room::direct_room_name;

use crate::{
    client::assert_in_order_and_complete,
    helpers::{Cluster, User, spawn_cluster},
};

fn quick(c: &mut chat::Config) {
    c.limits.rate_per_sec = 10_000;
    c.limits.burst = 10_000;
    c.tuning.read_flush = Duration::from_millis(50);
}

async fn rooms_of(app: &Cluster, user: &User) -> Vec<Value> {
    let body: Value = app
        .history(1, "/v1/rooms", user)
        .await
        .json()
        .await
        .unwrap();
    body["rooms"].as_array().unwrap().clone()
}

/// Polls the room list until `done` holds (memberships and markers are
/// written just after the frames that cause them).
async fn rooms_when(app: &Cluster, user: &User, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rooms = rooms_of(app, user).await;
        if done(&rooms) {
            return rooms;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "room list never got there: {rooms:?}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn room<'a>(rooms: &'a [Value], name: &str) -> Option<&'a Value> {
    rooms.iter().find(|r| r["room"] == name)
}

#[tokio::test(flavor = "multi_thread")]
async fn unread_counts_follow_markers_that_never_move_back() {
    let app = spawn_cluster(2, quick).await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut b = app.connect(1, "/ws/chat/news/", &bob).await;
    for i in 0..3 {
        b.say(&format!("before ann {i}")).await;
    }
    b.message_ids(3).await;
    // Joining starts the marker at the room's newest id: old news is not unread.
    let mut a = app.connect(0, "/ws/chat/news/", &ann).await;
    a.join("quiet").await;
    let rooms = rooms_when(&app, &ann, |r| r.len() == 2).await;
    assert_eq!(room(&rooms, "news").unwrap()["read_id"], 3);
    assert_eq!(room(&rooms, "news").unwrap()["unread"], 0);
    assert_eq!(room(&rooms, "quiet").unwrap()["last_message"], Value::Null);

    for i in 0..5 {
        b.say(&format!("for ann {i}")).await;
    }
    let got = a
        .receive_until(Duration::from_secs(5), |r| r.count("news") >= 5)
        .await;
    assert_eq!(got.ids["news"], (4..=8).collect::<Vec<_>>());
    a.say("ann's own").await;
    assert_eq!(a.next_message().await["id"], 9);
    let rooms = rooms_when(&app, &ann, |r| {
        room(r, "news").is_some_and(|n| n["last_id"] == 9)
    })
    .await;
    let news = room(&rooms, "news").unwrap();
    assert_eq!(
        (news["read_id"].as_i64(), news["unread"].as_i64()),
        (Some(3), Some(5)),
        "{news}"
    );
    assert_eq!(news["last_message"]["message"], "ann's own");
    assert_eq!(
        rooms[0]["room"], "news",
        "the room with the newest message first"
    );

    a.send_json(json!({"type": "read", "room": "news", "id": 6}))
        .await;
    rooms_when(&app, &ann, |r| {
        room(r, "news").is_some_and(|n| n["read_id"] == 6 && n["unread"] == 2)
    })
    .await;
    a.send_json(json!({"type": "read", "room": "news", "id": 4}))
        .await;
    a.send_json(json!({"type": "read", "room": "news", "id": 10}))
        .await;
    a.expect_error("invalid_request").await;
    a.send_json(json!({"type": "read", "room": "elsewhere", "id": 1}))
        .await;
    a.expect_error("not_joined").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let news = room(&rooms_of(&app, &ann).await, "news").unwrap().clone();
    assert_eq!(news["read_id"], 6, "a marker never moves back");

    // Leaving keeps the membership; forgetting ends it.
    a.send_json(json!({"type": "leave", "room": "quiet"})).await;
    assert_eq!(a.next_json().await["type"], "left");
    assert!(room(&rooms_of(&app, &ann).await, "quiet").is_some());
    a.send_json(json!({"type": "leave", "room": "quiet", "forget": true}))
        .await;
    assert_eq!(a.next_json().await["type"], "left");
    rooms_when(&app, &ann, |r| room(r, "quiet").is_none()).await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_reach_the_room_and_the_readers_other_sockets_on_every_replica() {
    let app = spawn_cluster(2, quick).await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut a = app.connect(0, "/ws/chat/room/", &ann).await;
    let mut b = app.connect(1, "/ws/chat/room/", &bob).await;
    // Ann's second socket, elsewhere, on the other replica.
    let mut a2 = app.connect(1, "/ws/chat/lobby/", &ann).await;
    b.say("read me").await;
    let id = a.next_message().await["id"].as_i64().unwrap();
    // A marker per message, as a client that marks every one read: coalesced.
    for _ in 0..5 {
        a.send_json(json!({"type": "read", "room": "room", "id": id}))
            .await;
    }
    let receipt = b.next_event("read", |_| true).await;
    assert_eq!(
        receipt,
        json!({"type": "read", "room": "room", "user_id": ann.id, "id": id})
    );
    assert_eq!(a2.next_event("read", |_| true).await, receipt);
    assert!(
        b.next_event_within("read", Duration::from_millis(400), |_| true)
            .await
            .is_none(),
        "five markers, one receipt"
    );
    assert!(
        a.next_event_within("read", Duration::from_millis(200), |_| true)
            .await
            .is_none(),
        "the reading socket is not told its own receipt"
    );
    app.teardown().await;
}

/// A room's receipts are announced at its pace
/// (`CHAT_ROOM_RECEIPTS_PER_SEC`); in a crowd that reads along the members take
/// turns, and none is lost: every member's newest marker reaches the sockets
/// of the other replica, each member's receipts only ever moving forward.
#[tokio::test(flavor = "multi_thread")]
async fn a_crowds_receipts_take_turns_and_every_members_newest_marker_arrives() {
    let app = spawn_cluster(2, |c| {
        quick(c);
        c.tuning.room_receipts_per_sec = 3;
    })
    .await;
    let watcher = User::new("watcher");
    let mut w = app.connect(1, "/ws/chat/crowd/", &watcher).await;
    let mut readers = Vec::new();
    for i in 0..12 {
        let user = User::new(&format!("reader{i}"));
        let socket = app.connect(0, "/ws/chat/crowd/", &user).await;
        readers.push((user, socket));
    }
    w.say("one").await;
    w.say("two").await;
    let ids = w.message_ids(2).await;
    for (_, socket) in &mut readers {
        assert_eq!(socket.message_ids(2).await, ids);
        for id in &ids {
            socket
                .send_json(json!({"type": "read", "room": "crowd", "id": id}))
                .await;
        }
    }
    let mut newest: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut first = None;
    while newest.values().filter(|&&id| id == ids[1]).count() < readers.len() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(receipt) = w.next_event_within("read", left, |_| true).await else {
            panic!(
                "receipts missing: {} of 12 members arrived: {newest:?}",
                newest.len()
            );
        };
        first.get_or_insert_with(tokio::time::Instant::now);
        let user = receipt["user_id"].as_str().unwrap().to_owned();
        let id = receipt["id"].as_i64().unwrap();
        let before = newest.insert(user, id);
        assert!(
            before.is_none_or(|b| b < id),
            "a member's receipt never repeats or moves back: {before:?} then {id}"
        );
    }
    let members: std::collections::HashSet<String> =
        readers.iter().map(|(u, _)| u.id.to_string()).collect();
    assert_eq!(
        newest
            .keys()
            .cloned()
            .collect::<std::collections::HashSet<_>>(),
        members
    );
    // The pace holds: a full bucket of 3, then 3 a second, so 12 members'
    // receipts take at least 3 s however fast their markers came (load only
    // makes it slower). Unpaced, they all came within 100 ms.
    let spread = first.unwrap().elapsed();
    assert!(
        spread >= Duration::from_millis(2500),
        "12 receipts in {spread:?}: the room's pace of 3 a second did not hold"
    );
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn typing_reaches_the_other_replica_once_a_second_and_never_the_typist() {
    let app = spawn_cluster(2, quick).await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let mut a = app.connect(0, "/ws/chat/room/", &ann).await;
    let mut b = app.connect(1, "/ws/chat/room/", &bob).await;
    for _ in 0..3 {
        a.send_json(json!({"type": "typing", "room": "room"})).await;
    }
    let typing = b.next_event("typing", |_| true).await;
    assert_eq!(
        typing,
        json!({"type": "typing", "room": "room", "user_id": ann.id, "user": "ann"})
    );
    assert!(
        b.next_event_within("typing", Duration::from_millis(600), |_| true)
            .await
            .is_none()
    );
    assert!(
        a.next_event_within("typing", Duration::from_millis(100), |_| true)
            .await
            .is_none()
    );
    a.send_json(json!({"type": "typing", "room": "elsewhere"}))
        .await;
    a.expect_error("not_joined").await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_direct_message_makes_the_recipient_a_member_and_tells_every_socket_of_theirs() {
    let app = spawn_cluster(2, quick).await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    let dm = direct_room_name(ann.id, bob.id);
    let mut b0 = app.connect(0, "/ws/chat/", &bob).await;
    let mut b1 = app.connect(1, "/ws/chat/elsewhere/", &bob).await;
    let mut a = app.connect(0, &format!("/ws/chat/{dm}/"), &ann).await;
    a.say("hello bob").await;
    let id = a.next_message().await["id"].as_i64().unwrap();
    let member = json!({"type": "member", "room": dm});
    assert_eq!(b0.next_event("member", |_| true).await, member);
    assert_eq!(b1.next_event("member", |_| true).await, member);
    let rooms = rooms_when(&app, &bob, |r| room(r, &dm).is_some()).await;
    let room_of_bob = room(&rooms, &dm).unwrap();
    assert_eq!(
        (
            room_of_bob["read_id"].as_i64(),
            room_of_bob["unread"].as_i64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(room_of_bob["last_message"]["message"], "hello bob");
    let rooms = rooms_of(&app, &ann).await;
    assert_eq!(
        room(&rooms, &dm).unwrap()["unread"],
        0,
        "the sender has read their own"
    );
    // A second message is no news.
    a.say("again").await;
    assert!(
        b0.next_event_within("member", Duration::from_millis(300), |_| true)
            .await
            .is_none()
    );
    assert!(id > 0);
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_typing_and_presence_do_not_disturb_message_order_or_ids() {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 40;
    let app = spawn_cluster(2, quick).await;
    let mut watchers = Vec::new();
    for i in 0..4 {
        watchers.push(
            app.connect(i % 2, "/ws/chat/busy/", &User::new(&format!("w{i}")))
                .await,
        );
    }
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        senders.push(
            app.connect(s % 2, "/ws/chat/busy/", &User::new(&format!("s{s}")))
                .await,
        );
    }
    let mut tasks = Vec::new();
    for (s, c) in senders.into_iter().enumerate() {
        let frames: Vec<Value> = (0..PER_SENDER)
            .flat_map(|i| {
                [
                    json!({"message": format!("{s}:{i}")}),
                    json!({"type": "typing", "room": "busy"}),
                    json!({"type": "read", "room": "busy", "id": 0}),
                ]
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            c.send_while_receiving(frames, Duration::from_secs(30), |r| {
                r.count("busy") >= SENDERS * PER_SENDER
            })
            .await
        }));
    }
    let total = i64::try_from(SENDERS * PER_SENDER).unwrap();
    for (i, mut w) in watchers.into_iter().enumerate() {
        let got = w
            .receive_until(Duration::from_secs(30), |r| {
                r.count("busy") >= SENDERS * PER_SENDER
            })
            .await;
        assert!(got.errors.is_empty(), "{:?}", got.errors);
        assert_in_order_and_complete(&format!("watcher {i}"), &got.ids["busy"], 1, total);
    }
    for (s, task) in tasks.into_iter().enumerate() {
        let got = task.await.unwrap();
        assert!(got.errors.is_empty(), "sender {s}: {:?}", got.errors);
        assert_in_order_and_complete(&format!("sender {s}"), &got.ids["busy"], 1, total);
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn joins_past_the_membership_cap_deliver_but_are_not_stored() {
    let app = spawn_cluster(2, |c| {
        quick(c);
        c.limits.max_memberships = 3;
    })
    .await;
    let (ann, bob) = (User::new("ann"), User::new("bob"));
    // The URL room and two joins fill the cap; three churned names do not pass it.
    let mut a = app.connect(0, "/ws/chat/r0/", &ann).await;
    for room in ["r1", "r2"] {
        a.join(room).await;
    }
    rooms_when(&app, &ann, |r| r.len() == 3).await;
    for room in ["x1", "x2", "x3"] {
        a.join(room).await;
        a.send_json(json!({"type": "leave", "room": room})).await;
    }
    a.join("over").await;
    // A join past the cap still delivers.
    let mut b = app.connect(1, "/ws/chat/over/", &bob).await;
    b.say("still heard").await;
    assert_eq!(a.next_message().await["message"], "still heard");
    // A read marker of a held membership still moves; one of a room not held
    // makes no membership either.
    b.join("r1").await;
    b.say_in("r1", "in r1").await;
    assert_eq!(a.next_message().await["room"], "r1");
    a.send_json(json!({"type": "read", "room": "r1", "id": 1}))
        .await;
    a.send_json(json!({"type": "read", "room": "over", "id": 1}))
        .await;
    let rooms = rooms_when(&app, &ann, |r| {
        room(r, "r1").is_some_and(|m| m["read_id"] == 1)
    })
    .await;
    let mut names: Vec<&str> = rooms.iter().filter_map(|r| r["room"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["r0", "r1", "r2"]);
    // Forgetting one makes room for the next join.
    a.send_json(json!({"type": "leave", "room": "r2", "forget": true}))
        .await;
    rooms_when(&app, &ann, |r| r.len() == 2).await;
    a.join("later").await;
    rooms_when(&app, &ann, |r| room(r, "later").is_some()).await;
    app.teardown().await;
}
