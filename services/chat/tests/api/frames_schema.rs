//! The frames schema is the parser's: every frame the schema accepts, the server
//! parses; every frame the parser refuses, the schema refuses; and every frame
//! the server writes is valid against it.

use chat::{
    api_docs::frames,
    domain::{
        ClientFrame, FrameError, ServerFrame, SocketClose, StoredMessage,
        room::direct_room_name,
        rules::{check_client_id, room_for},
    },
};
use serde_json::{Value, json};
use uuid::Uuid;

fn validator(def: &str) -> jsonschema::Validator {
    let mut schema = frames::schema().expect("no conflicting definitions");
    let object = schema.as_object_mut().expect("an object");
    object.remove("anyOf");
    object.insert("$ref".into(), json!(format!("#/$defs/{def}")));
    jsonschema::validator_for(&schema).expect("a valid schema")
}

fn valid(v: &jsonschema::Validator, text: &str) -> bool {
    v.is_valid(&serde_json::from_str::<Value>(text).unwrap_or(Value::Null))
}

const ACCEPTED: &[&str] = &[
    r#"{"message":"hi"}"#,
    r#"{"type":"message","room":"r","message":"hi"}"#,
    r#"{"type":"message","room":"general-1","message":"hi","client_id":"c-1"}"#,
    r#"{"type":"message","room":"r","message":"hi","client_id":null}"#,
    r#"{"type":"join","room":"r"}"#,
    r#"{"type":"join","room":"r","since":0}"#,
    r#"{"type":"leave","room":"r"}"#,
    r#"{"type":"leave","room":"r","forget":true}"#,
    r#"{"type":"read","room":"r","id":120}"#,
    r#"{"type":"typing","room":"r"}"#,
    r#"{"type":"ping"}"#,
];

/// Refused by the parser (`invalid_json` or `invalid_request`).
const UNPARSED: &[&str] = &[
    "{",
    "[1]",
    "\"hi\"",
    "null",
    "{}",
    r#"{"message":5}"#,
    r#"{"message":null}"#,
    r#"{"type":"dance"}"#,
    r#"{"type":5,"message":"hi"}"#,
    r#"{"type":"message","message":"hi"}"#,
    r#"{"type":"message","room":"r"}"#,
    r#"{"type":"message","room":"r","message":"hi","client_id":5}"#,
    r#"{"type":"join"}"#,
    r#"{"type":"join","room":"r","since":"5"}"#,
    r#"{"type":"join","room":"r","since":1.5}"#,
    r#"{"type":"leave","room":"r","forget":"yes"}"#,
    r#"{"type":"read","room":"r"}"#,
    r#"{"type":"typing"}"#,
    // Fields the contract does not name.
    r#"{"message":"hi","extra":1}"#,
    r#"{"message":"hi","room":"r","client_id":"c-1"}"#,
    r#"{"type":"join","room":"r","snce":120}"#,
    r#"{"type":"ping","at":5}"#,
    r#"{"type":"ping","message":"hi","room":3}"#,
];

/// Parsed, then refused by the rules the schema also states (room names,
/// `client_id` length, no negative ids).
const REFUSED_BY_RULES: &[&str] = &[
    r#"{"type":"join","room":"Lobby"}"#,
    r#"{"type":"join","room":"a b"}"#,
    r#"{"type":"join","room":"r","since":-1}"#,
    r#"{"type":"read","room":"r","id":-1}"#,
    r#"{"type":"message","room":"r","message":"hi","client_id":""}"#,
];

#[test]
fn frames_the_schema_accepts_are_parsed() {
    let schema = validator("ClientFrame");
    for text in ACCEPTED {
        assert!(valid(&schema, text), "the schema refuses {text}");
        assert!(
            ClientFrame::parse(text).is_ok(),
            "the parser refuses {text}"
        );
    }
    let long_id = format!(
        r#"{{"type":"message","room":"r","message":"hi","client_id":"{}"}}"#,
        "é".repeat(64)
    );
    assert!(valid(&schema, &long_id));
    assert!(ClientFrame::parse(&long_id).is_ok());
}

#[test]
fn frames_the_parser_refuses_the_schema_refuses() {
    let schema = validator("ClientFrame");
    for text in UNPARSED {
        assert!(!valid(&schema, text), "the schema accepts {text}");
        assert!(
            ClientFrame::parse(text).is_err(),
            "the parser accepts {text}"
        );
    }
}

#[test]
fn frames_the_rules_refuse_the_schema_refuses() {
    let schema = validator("ClientFrame");
    let user = Uuid::new_v4();
    for text in REFUSED_BY_RULES {
        assert!(!valid(&schema, text), "the schema accepts {text}");
        let refused = match ClientFrame::parse(text) {
            Ok(ClientFrame::Join { room, since }) => {
                room_for(user, &room).is_err() || since.is_some_and(|s| s < 0)
            }
            Ok(ClientFrame::Read { id, .. }) => id < 0,
            Ok(ClientFrame::Send { client_id, .. }) => {
                check_client_id(client_id.as_deref()).is_err()
            }
            other => panic!("{text} parsed as {other:?}"),
        };
        assert!(refused, "the rules accept {text}");
    }
    let too_long = format!(
        r#"{{"type":"message","room":"r","message":"hi","client_id":"{}"}}"#,
        "x".repeat(65)
    );
    assert!(!valid(&schema, &too_long));
    assert!(check_client_id(Some(&"x".repeat(65))).is_err());
}

#[test]
fn room_names_follow_the_schema_pattern() {
    let schema = validator("RoomName");
    let (a, b) = (Uuid::from_u128(0xa1), Uuid::from_u128(0xb2));
    let direct = direct_room_name(a, b);
    for ok in ["lobby", "a", "0", "room_1-b", &"a".repeat(64), &direct] {
        assert!(schema.is_valid(&json!(ok)), "{ok}");
        assert!(room_for(a, ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "Lobby",
        "_a",
        "-a",
        "a b",
        "é",
        "a.b",
        &"a".repeat(65),
        "dm.x.y",
    ] {
        assert!(!schema.is_valid(&json!(bad)), "{bad}");
        assert!(room_for(a, bad).is_err(), "{bad}");
    }
}

#[test]
fn every_frame_the_server_writes_is_valid() {
    let schema = validator("ServerFrame");
    let user = Uuid::new_v4();
    let stored = StoredMessage {
        room: "general".into(),
        id: 121,
        user_id: user,
        user_name: "ann".into(),
        body: "hi".into(),
        client_id: Some("c-1".into()),
        created_at: chrono::Utc::now(),
    };
    let mut frames = vec![
        ServerFrame::message(&stored).encode(),
        ServerFrame::Joined { room: "general" }.encode(),
        ServerFrame::Left { room: "general" }.encode(),
        ServerFrame::Pong.encode(),
        ServerFrame::Read {
            room: "general",
            user_id: user,
            id: 120,
        }
        .encode(),
        ServerFrame::Typing {
            room: "general",
            user_id: user,
            user: "ann",
        }
        .encode(),
        ServerFrame::Member { room: "general" }.encode(),
        ServerFrame::Presence {
            room: "general",
            user_id: user,
            user: "ann",
            online: false,
        }
        .encode(),
    ];
    let errors = [
        FrameError::InvalidJson,
        FrameError::InvalidRequest("x".into()),
        FrameError::NotJoined("r".into()),
        FrameError::Forbidden("r".into()),
        FrameError::MessageTooLong(4000),
        FrameError::EmptyMessage,
        FrameError::RateLimited,
        FrameError::Unavailable,
    ];
    frames.extend(errors.iter().map(|e| ServerFrame::error(e).encode()));
    let without_id = StoredMessage {
        client_id: None,
        ..stored.clone()
    };
    frames.push(ServerFrame::message(&without_id).encode());
    for frame in &frames {
        assert!(valid(&schema, frame), "the schema refuses {frame}");
    }
    // A client frame is not a server frame.
    assert!(!valid(&schema, r#"{"type":"ping"}"#));
}

#[test]
fn the_schema_lists_every_error_code_and_close_code() {
    let schema = frames::schema().expect("no conflicting definitions");
    let codes = &schema["$defs"]["ErrorCode"]["enum"];
    assert_eq!(
        codes,
        &json!([
            "invalid_json",
            "invalid_request",
            "not_joined",
            "invalid_room",
            "forbidden",
            "message_too_long",
            "empty_message",
            "rate_limited",
            "unavailable"
        ])
    );
    let closes: Vec<&Value> = schema["$defs"]["CloseCode"]["oneOf"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| &c["const"])
        .collect();
    let expected: Vec<Value> = SocketClose::ALL.iter().map(|c| json!(c.code())).collect();
    assert_eq!(closes, expected.iter().collect::<Vec<_>>());
    for code in [1001, 1009, 1013, 4001, 4003] {
        assert!(expected.contains(&json!(code)), "{code}");
    }
}
