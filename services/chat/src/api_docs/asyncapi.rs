//! A small AsyncAPI 3.0 document: the socket URLs of the OpenAPI description
//! (its `sockets` operations) as channels, each carrying the client and server
//! frames of `chat.frames.schema.json`. From the server's side: it receives
//! client frames and sends server frames.

use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;

/// The tag of the socket handshakes in the OpenAPI description.
const SOCKETS_TAG: &str = "sockets";

pub fn document(openapi: &OpenApi) -> Value {
    let mut channels = Map::new();
    let mut operations = Map::new();
    for (address, item) in &openapi.paths.paths {
        let is_socket = item.get.as_ref().is_some_and(|op| {
            op.tags
                .as_ref()
                .is_some_and(|tags| tags.iter().any(|t| t == SOCKETS_TAG))
        });
        if !is_socket {
            continue;
        }
        let name = if address.contains("{room}") {
            "room"
        } else {
            "lobby"
        };
        let mut channel = json!({
            "address": address,
            "description": item.get.as_ref().and_then(|op| op.summary.clone()),
            "messages": {
                "clientFrame": {"$ref": "#/components/messages/clientFrame"},
                "serverFrame": {"$ref": "#/components/messages/serverFrame"},
            },
            "bindings": {"ws": {"method": "GET", "query": {
                "type": "object",
                "properties": {
                    "token": {"type": "string", "description": "The access token (or send \
                              `Authorization: Bearer`)."},
                    "since": {"type": "integer", "minimum": 0, "description": "Replay the \
                              room's stored messages after this id first."},
                },
            }}},
        });
        if name == "room" {
            channel["parameters"] =
                json!({"room": {"description": "The room to join: a `RoomName`."}});
        }
        operations.insert(
            format!("{name}Receive"),
            json!({
                "action": "receive",
                "channel": {"$ref": format!("#/channels/{name}")},
                "messages": [{"$ref": format!("#/channels/{name}/messages/clientFrame")}],
            }),
        );
        operations.insert(
            format!("{name}Send"),
            json!({
                "action": "send",
                "channel": {"$ref": format!("#/channels/{name}")},
                "messages": [{"$ref": format!("#/channels/{name}/messages/serverFrame")}],
            }),
        );
        channels.insert(name.to_owned(), channel);
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "chatverify chat sockets",
            "version": openapi.info.version,
            "description": "The WebSocket of the chat service. The handshake (authentication, \
                            its HTTP errors) is in `chat.openapi.json`; the frames, error codes \
                            and close codes are in `chat.frames.schema.json`.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": {
            "clientFrame": {
                "summary": "A frame from the client",
                "payload": {"$ref": "chat.frames.schema.json#/$defs/ClientFrame"},
            },
            "serverFrame": {
                "summary": "A frame from the server",
                "payload": {"$ref": "chat.frames.schema.json#/$defs/ServerFrame"},
            },
        }},
    })
}

/// The document as committed: pretty JSON ending in a newline.
pub fn render(openapi: &OpenApi) -> String {
    format!("{:#}\n", document(openapi))
}
