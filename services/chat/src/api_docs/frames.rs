//! JSON Schema (2020-12) of the WebSocket frames, derived with schemars from the
//! frame types themselves: client frames from the types [`ClientFrame::parse`]
//! deserializes into (what the server accepts), server frames from
//! [`ServerFrame`] (what it writes), and the close codes from [`SocketClose`].

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::domain::{ClientFrame, ServerFrame, SocketClose};

#[derive(Debug, thiserror::Error)]
#[error("the client and server frame schemas define {0:?} differently")]
pub struct ConflictingDefinition(String);

/// The frames document: `$defs` holds `ClientFrame`, `ServerFrame` and
/// `CloseCode` (and what they use); the root accepts a frame of either direction.
pub fn schema() -> Result<Value, ConflictingDefinition> {
    // Client frames are what the server deserializes, server frames what it
    // serializes: a field with a default is optional in the one, always written
    // in the other.
    let mut client = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let client_frame = client.subschema_for::<ClientFrame>();
    let mut server = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let server_frame = server.subschema_for::<ServerFrame<'static>>();
    server.subschema_for::<SocketClose>();
    let mut defs: Map<String, Value> = client.take_definitions(true);
    for (name, def) in server.take_definitions(true) {
        match defs.get(&name) {
            Some(existing) if *existing != def => return Err(ConflictingDefinition(name)),
            _ => {
                defs.insert(name, def);
            }
        }
    }
    defs.sort_keys();
    Ok(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "chat.frames.schema.json",
        "title": "chatverify chat WebSocket frames",
        "description": "Frames are JSON text. `$defs/ClientFrame`: client to server; \
                        `$defs/ServerFrame`: server to client (a client ignores frame types \
                        it does not know: more may be added); `$defs/CloseCode`: the codes \
                        the server closes a socket with.",
        "anyOf": [client_frame, server_frame],
        "$defs": defs,
    }))
}

/// The document as committed: pretty JSON ending in a newline.
pub fn render() -> Result<String, ConflictingDefinition> {
    let schema = schema()?;
    Ok(format!("{schema:#}\n"))
}
