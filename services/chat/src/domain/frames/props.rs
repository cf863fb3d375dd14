//! Properties of the client frame parser: it never panics, whatever the text;
//! it accepts every frame of the contract, with any text and ids in it; and it
//! refuses a contract frame with a field missing, of the wrong type, or one the
//! contract does not name (a typo such as `snce` would otherwise join without
//! catch-up, and `{"message", "room", "client_id"}` without `type` would go to
//! the URL room with its idempotency key dropped).

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::ClientFrame;
use crate::domain::ErrorCode;

/// A frame of the contract as JSON, and what it must parse to.
fn contract_frame() -> impl Strategy<Value = (Value, ClientFrame)> {
    let text = || any::<String>();
    let room = || "[a-z0-9][a-z0-9_-]{0,10}|\\PC{0,12}";
    let id = || any::<i64>();
    prop_oneof![
        text().prop_map(|m| (
            json!({"message": m}),
            ClientFrame::Send {
                room: None,
                body: m,
                client_id: None
            }
        )),
        (room(), text(), proptest::option::of(text())).prop_map(|(r, m, c)| {
            let mut v = json!({"type": "message", "room": r, "message": m});
            if let Some(c) = &c {
                v["client_id"] = json!(c);
            }
            (
                v,
                ClientFrame::Send {
                    room: Some(r),
                    body: m,
                    client_id: c,
                },
            )
        }),
        (room(), proptest::option::of(id())).prop_map(|(r, since)| {
            let mut v = json!({"type": "join", "room": r});
            if let Some(s) = since {
                v["since"] = json!(s);
            }
            (v, ClientFrame::Join { room: r, since })
        }),
        (room(), proptest::option::of(any::<bool>())).prop_map(|(r, forget)| {
            let mut v = json!({"type": "leave", "room": r});
            if let Some(f) = forget {
                v["forget"] = json!(f);
            }
            (
                v,
                ClientFrame::Leave {
                    room: r,
                    forget: forget.unwrap_or(false),
                },
            )
        }),
        (room(), id()).prop_map(|(r, i)| (
            json!({"type": "read", "room": r, "id": i}),
            ClientFrame::Read { room: r, id: i }
        )),
        room().prop_map(|r| (
            json!({"type": "typing", "room": r}),
            ClientFrame::Typing { room: r }
        )),
        Just((json!({"type": "ping"}), ClientFrame::Ping)),
    ]
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,8}|type|message|room|join|ping".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map("type|message|room|since|id|\\PC{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn code_of(text: &str) -> Option<ErrorCode> {
    ClientFrame::parse(text).err().map(|e| e.code())
}

proptest! {
    #[test]
    fn any_text_is_a_frame_or_a_refusal_never_a_panic(text in "\\PC{0,200}|.{0,200}") {
        let _ = ClientFrame::parse(&text);
    }

    #[test]
    fn any_json_is_a_frame_or_invalid_request(value in any_json()) {
        let code = code_of(&value.to_string());
        prop_assert!(code.is_none() || code == Some(ErrorCode::InvalidRequest), "{:?}", code);
    }

    #[test]
    fn every_contract_frame_parses_to_what_it_says((value, frame) in contract_frame()) {
        prop_assert_eq!(ClientFrame::parse(&value.to_string()), Ok(frame));
    }

    #[test]
    fn a_field_the_contract_does_not_name_is_refused(
        (mut value, _) in contract_frame(),
        field in "[a-z_]{1,10}",
        extra in any_json(),
    ) {
        let known = ["type", "message", "room", "client_id", "since", "forget", "id"];
        prop_assume!(!known.contains(&field.as_str()));
        value[field.as_str()] = extra;
        prop_assert_eq!(code_of(&value.to_string()), Some(ErrorCode::InvalidRequest));
    }

    #[test]
    fn a_missing_or_mistyped_field_is_refused((value, _) in contract_frame(), pick: usize, wrong in any_json()) {
        let Value::Object(fields) = value else { unreachable!() };
        let required: Vec<&String> = fields
            .keys()
            .filter(|k| !matches!(k.as_str(), "client_id" | "since" | "forget"))
            .collect();
        let name = required[pick % required.len()].clone();
        // Missing: refused, `type` included (what is left is no seed form).
        let mut missing = fields.clone();
        missing.remove(&name);
        prop_assert!(code_of(&Value::Object(missing).to_string()).is_some());
        // Mistyped: a value of another JSON type than the contract's.
        let same_kind = std::mem::discriminant(&fields[&name]) == std::mem::discriminant(&wrong)
            || (fields[&name].is_i64() && wrong.is_u64());
        if !same_kind {
            let mut mistyped = fields.clone();
            mistyped.insert(name, wrong);
            prop_assert!(code_of(&Value::Object(mistyped).to_string()).is_some());
        }
    }
}
