//! Frames a polite client never sends: the limits hold, nothing panics, and the
//! socket either stays open with an error frame or closes with the contract's code.

use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::frame::{Frame, coding::Data, coding::OpCode},
};

use crate::helpers::{User, spawn_cluster};

fn fragment(data: &[u8], first: bool, last: bool) -> Message {
    let opcode = if first {
        OpCode::Data(Data::Text)
    } else {
        OpCode::Data(Data::Continue)
    };
    Message::Frame(Frame::message(Bytes::copy_from_slice(data), opcode, last))
}

#[tokio::test(flavor = "multi_thread")]
async fn fragments_are_put_together_and_held_to_max_frame_bytes_as_a_whole() {
    let app = spawn_cluster(1, |c| c.limits.max_frame_bytes = 1024).await;
    let mut a = app.connect(0, "/ws/chat/", &User::new("ann")).await;
    // A message in three fragments is one frame.
    let text = json!({"message": "x".repeat(600)}).to_string();
    let (one, rest) = text.as_bytes().split_at(200);
    let (two, three) = rest.split_at(200);
    for (part, first, last) in [
        (one, true, false),
        (two, false, false),
        (three, false, true),
    ] {
        a.ws.send(fragment(part, first, last)).await.unwrap();
    }
    assert_eq!(a.next_message().await["id"], 1);
    // Each fragment under the limit, together over it.
    let chunk = vec![b' '; 700];
    a.ws.send(fragment(&chunk, true, false)).await.unwrap();
    a.ws.send(fragment(&chunk, false, false)).await.unwrap();
    assert_eq!(
        a.ended_within(Duration::from_secs(5)).await.code(),
        Some(1009)
    );
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn absurd_frames_are_refused_and_the_socket_stays_open() {
    let app = spawn_cluster(1, |c| {
        c.limits.control_rate_per_sec = 10_000;
        c.limits.control_burst = 10_000;
    })
    .await;
    let mut a = app.connect(0, "/ws/chat/room/", &User::new("ann")).await;
    a.say("one").await;
    assert_eq!(a.next_message().await["id"], 1);

    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let nested = format!(r#"{{"type":"join","room":"r","since":{}}}"#, deep);
    let huge = "9".repeat(30);
    let cases = [
        (deep.clone(), "invalid_json"),
        (nested, "invalid_json"),
        (format!(r#"{{"type":"join","room":"r","since":{huge}}}"#), "invalid_request"),
        (r#"{"type":"join","room":"r","since":-1}"#.to_owned(), "invalid_request"),
        (r#"{"type":"join","room":"r","since":1.5}"#.to_owned(), "invalid_request"),
        (r#"{"type":"read","room":"room","id":9223372036854775807}"#.to_owned(), "invalid_request"),
        (r#"{"type":"read","room":"room","id":-9223372036854775808}"#.to_owned(), "invalid_request"),
        (json!({"type": "join", "room": "r".repeat(60_000)}).to_string(), "invalid_room"),
        (json!({"type": "typing", "room": "é".repeat(30_000)}).to_string(), "invalid_room"),
        (
            json!({"type": "message", "room": "room", "message": "m", "client_id": "c".repeat(60_000)})
                .to_string(),
            "invalid_request",
        ),
        (r#"{"type":"message","room":"room","message":"\u0000"}"#.to_owned(), "invalid_request"),
        (r#"{"type":"leave","room":"room","forget":"yes"}"#.to_owned(), "invalid_request"),
        (r#"{"type":"ping","type":"join"}"#.to_owned(), "invalid_request"),
    ];
    for (frame, code) in &cases {
        a.send_text(frame).await;
        let reply = a.next_json().await;
        assert_eq!(
            (&reply["type"], &reply["code"]),
            (&json!("error"), &json!(code)),
            "{}…: {reply}",
            &frame[..frame.len().min(60)]
        );
    }
    // A since past every id starts live after it (the client says it saw them).
    a.send_json(json!({"type": "join", "room": "other", "since": i64::MAX}))
        .await;
    assert_eq!(a.next_json().await["type"], "joined");
    a.say("two").await;
    assert_eq!(a.next_message().await["id"], 2);
    a.ping().await;
    app.teardown().await;
}
