//! The delivery guarantee, checked whole: every socket receives every stored
//! message of its rooms in id order, once, with none missing — with concurrent
//! senders on two replicas, retries racing across replicas, and messages the
//! database refuses.

use std::time::Duration;

use serde_json::json;

use crate::{
    client::assert_in_order_and_complete,
    helpers::{Cluster, User, spawn_cluster},
};

const LONG: Duration = Duration::from_secs(30);

fn fast(c: &mut chat::Config) {
    c.limits.rate_per_sec = 10_000;
    c.limits.burst = 10_000;
    c.shared.workers = 2;
}

async fn history_ids(app: &Cluster, room: &str) -> Vec<i64> {
    let body: serde_json::Value = app
        .history(
            0,
            &format!("/v1/rooms/{room}/messages?limit=100"),
            &User::new("reader"),
        )
        .await
        .json()
        .await
        .unwrap();
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_senders_on_two_replicas_every_socket_gets_every_id_once_in_order() {
    const SENDERS: usize = 8;
    const PER_SENDER: usize = 40;
    let app = spawn_cluster(2, fast).await;
    // Watchers of one room, and of both (a socket in two rooms).
    let mut watchers = Vec::new();
    for replica in 0..2 {
        for (i, rooms) in [vec!["one"], vec!["two"], vec!["one", "two"]]
            .into_iter()
            .enumerate()
        {
            let user = User::new(&format!("w{replica}{i}"));
            let mut c = app
                .connect(replica, &format!("/ws/chat/{}/", rooms[0]), &user)
                .await;
            for room in &rooms[1..] {
                c.join(room).await;
            }
            watchers.push((format!("watcher {replica}/{rooms:?}"), rooms, c));
        }
    }
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let mut c = app
            .connect(s % 2, "/ws/chat/one/", &User::new(&format!("s{s}")))
            .await;
        c.join("two").await;
        senders.push(c);
    }
    let per_room = i64::try_from(SENDERS * PER_SENDER / 2).unwrap();

    let sending: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(s, c)| {
            let frames = (0..PER_SENDER)
                .map(|i| {
                    let room = if i % 2 == 0 { "one" } else { "two" };
                    json!({"type": "message", "room": room, "message": format!("{s}:{i}")})
                })
                .collect();
            tokio::spawn(async move {
                let got = c
                    .send_while_receiving(frames, LONG, |r| {
                        r.count("one") + r.count("two") >= 2 * usize::try_from(per_room).unwrap()
                    })
                    .await;
                (format!("sender {s}"), vec!["one", "two"], got)
            })
        })
        .collect();
    let watching: Vec<_> = watchers
        .into_iter()
        .map(|(what, rooms, mut c)| {
            tokio::spawn(async move {
                let n = usize::try_from(per_room).unwrap() * rooms.len();
                let got = c
                    .receive_until(LONG, |r| r.count("one") + r.count("two") >= n)
                    .await;
                (what, rooms, got)
            })
        })
        .collect();
    for task in sending.into_iter().chain(watching) {
        let (what, rooms, got) = task.await.unwrap();
        assert!(got.errors.is_empty(), "{what}: {:?}", got.errors);
        assert!(got.ended.is_none(), "{what}: {:?}", got.ended);
        for room in rooms {
            let ids = got.ids.get(room).cloned().unwrap_or_default();
            assert_in_order_and_complete(&format!("{what} in {room}"), &ids, 1, per_room);
        }
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_client_id_sent_through_two_replicas_at_once_is_stored_once_and_fails_no_one() {
    const MESSAGES: usize = 60;
    let rooms = ["p", "q", "r"];
    let app = spawn_cluster(2, fast).await;
    let ann = User::new("ann");
    let mut copies = Vec::new();
    for replica in 0..2 {
        let mut c = app.connect(replica, "/ws/chat/p/", &ann).await;
        c.join("q").await;
        c.join("r").await;
        copies.push(c);
    }
    let mut watchers = Vec::new();
    for replica in 0..2 {
        let mut w = app
            .connect(replica, "/ws/chat/p/", &User::new(&format!("bob{replica}")))
            .await;
        w.join("q").await;
        w.join("r").await;
        watchers.push(w);
    }
    // The same frames, in the same breath, on both replicas: each replica's
    // writer takes several rooms into one batch, and the two race per key.
    for i in 0..MESSAGES {
        let frame = json!({
            "type": "message", "room": rooms[i % 3], "message": format!("m{i}"),
            "client_id": format!("c-{i}"),
        });
        for c in &mut copies {
            c.send_json(frame.clone()).await;
        }
    }
    let per_room = i64::try_from(MESSAGES / 3).unwrap();
    for (i, c) in copies.iter_mut().enumerate() {
        let got = c
            .receive_until(LONG, |r| {
                let mut seen: Vec<&String> = r.client_ids.iter().collect();
                seen.sort();
                seen.dedup();
                seen.len() >= MESSAGES
            })
            .await;
        assert!(got.errors.is_empty(), "copy {i} heard {:?}", got.errors);
    }
    for (i, w) in watchers.iter_mut().enumerate() {
        let got = w
            .receive_until(LONG, |r| {
                rooms.iter().map(|room| r.count(room)).sum::<usize>() >= MESSAGES
            })
            .await;
        for room in rooms {
            let ids = got.ids.get(room).cloned().unwrap_or_default();
            assert_in_order_and_complete(&format!("watcher {i} in {room}"), &ids, 1, per_room);
        }
    }
    for room in rooms {
        assert_eq!(
            history_ids(&app, room).await,
            (1..=per_room).collect::<Vec<_>>(),
            "{room}"
        );
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_with_nul_is_refused_alone_and_others_sent_with_it_are_stored() {
    let app = spawn_cluster(1, fast).await;
    let mut ann = app.connect(0, "/ws/chat/room/", &User::new("ann")).await;
    let mut bob = app.connect(0, "/ws/chat/room/", &User::new("bob")).await;
    for i in 0..10 {
        ann.say(&format!("fine {i}")).await;
        if i == 5 {
            bob.say("bad \u{0} byte").await;
            bob.send_json(
                json!({"type": "message", "room": "room", "message": "ok", "client_id": "a\u{0}b"}),
            )
            .await;
        }
    }
    let got = ann.receive_until(LONG, |r| r.count("room") >= 10).await;
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_in_order_and_complete("ann", &got.ids["room"], 1, 10);
    bob.expect_error("invalid_request").await;
    let second = bob.next_json().await;
    assert_eq!(second["type"], "error", "{second}");
    assert_eq!(second["code"], "invalid_request", "{second}");
    assert_eq!(
        history_ids(&app, "room").await,
        (1..=10).collect::<Vec<_>>()
    );
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_the_database_refuses_fails_only_its_own_sender() {
    let app = spawn_cluster(1, |c| {
        fast(c);
        // Wait long enough between batches that every sender's message lands
        // in one batch with the poisoned one.
        c.tuning.write_batch = 256;
    })
    .await;
    app.db
        .execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.body = 'poison' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_poison BEFORE INSERT ON messages \
             FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .await;
    let mut senders = Vec::new();
    for i in 0..6 {
        senders.push(
            app.connect(0, "/ws/chat/room/", &User::new(&format!("u{i}")))
                .await,
        );
    }
    let mut mallory = app
        .connect(0, "/ws/chat/room/", &User::new("mallory"))
        .await;
    for round in 0..5 {
        for (i, s) in senders.iter_mut().enumerate() {
            s.say(&format!("{i}.{round}")).await;
        }
        mallory.say("poison").await;
    }
    let expected = 6 * 5;
    for (i, s) in senders.iter_mut().enumerate() {
        let got = s.receive_until(LONG, |r| r.count("room") >= expected).await;
        assert!(got.errors.is_empty(), "sender {i}: {:?}", got.errors);
        assert_in_order_and_complete(
            &format!("sender {i}"),
            &got.ids["room"],
            1,
            i64::try_from(expected).unwrap(),
        );
    }
    let got = mallory
        .receive_until(LONG, |r| r.errors.len() >= 5 && r.count("room") >= expected)
        .await;
    assert_eq!(got.errors.len(), 5, "{:?}", got.errors);
    assert!(
        got.errors.iter().all(|e| e["code"] == "unavailable"),
        "{:?}",
        got.errors
    );
    app.teardown().await;
}
