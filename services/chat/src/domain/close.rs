//! The close codes the server ends a socket with, and what a client does about
//! each. The socket task closes only with these, and the frames schema lists
//! them from here (`crate::api_docs`).

use std::borrow::Cow;

use schemars::{JsonSchema, SchemaGenerator, json_schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketClose {
    ServerShutdown,
    ProtocolError,
    InvalidText,
    FrameTooLarge,
    TooFarBehind,
    TokenExpired,
    TokenRevoked,
}

impl SocketClose {
    pub const ALL: [Self; 7] = [
        Self::ServerShutdown,
        Self::ProtocolError,
        Self::InvalidText,
        Self::FrameTooLarge,
        Self::TooFarBehind,
        Self::TokenExpired,
        Self::TokenRevoked,
    ];

    pub fn code(self) -> u16 {
        match self {
            Self::ServerShutdown => 1001,
            Self::ProtocolError => 1002,
            Self::InvalidText => 1007,
            Self::FrameTooLarge => 1009,
            Self::TooFarBehind => 1013,
            Self::TokenExpired => 4001,
            Self::TokenRevoked => 4003,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::ServerShutdown => "server_shutting_down",
            Self::ProtocolError => "protocol_error",
            Self::InvalidText => "invalid_text",
            Self::FrameTooLarge => "frame_too_large",
            Self::TooFarBehind => "too_far_behind",
            Self::TokenExpired => "token_expired",
            Self::TokenRevoked => "token_revoked",
        }
    }

    /// What happened, and what the client does next.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::ServerShutdown => {
                "The server is shutting down (after the messages in flight were stored and \
                 echoed): reconnect, with `since` = the last id seen."
            }
            Self::ProtocolError => {
                "The client broke the WebSocket protocol (e.g. a continuation without a first frame)."
            }
            Self::InvalidText => "A text frame was not UTF-8.",
            Self::FrameTooLarge => "A frame was larger than `max_frame_bytes` (`GET /v1/limits`).",
            Self::TooFarBehind => {
                "The socket fell too far behind, or a gap could not be filled: rejoin with \
                 `since` = the last id seen. Nothing is ever skipped silently."
            }
            Self::TokenExpired => "The access token expired: refresh it and reconnect.",
            Self::TokenRevoked => {
                "The login was revoked (logout, or a reused refresh token): sign in again."
            }
        }
    }
}

impl From<SocketClose> for actix_ws::CloseCode {
    fn from(close: SocketClose) -> Self {
        match close {
            SocketClose::ServerShutdown => Self::Away,
            SocketClose::ProtocolError => Self::Protocol,
            SocketClose::InvalidText => Self::Invalid,
            SocketClose::FrameTooLarge => Self::Size,
            SocketClose::TooFarBehind => Self::Again,
            SocketClose::TokenExpired | SocketClose::TokenRevoked => Self::Other(close.code()),
        }
    }
}

/// An integer enum, each value titled and described.
impl JsonSchema for SocketClose {
    fn schema_name() -> Cow<'static, str> {
        "CloseCode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
        let values: Vec<serde_json::Value> = Self::ALL
            .iter()
            .map(|c| {
                serde_json::json!({
                    "const": c.code(),
                    "title": c.name(),
                    "description": c.meaning(),
                })
            })
            .collect();
        json_schema!({
            "description": "Close codes the server ends a socket with. A socket the client \
                            closes is closed with the client's code; a client that stops \
                            answering pings is dropped without a close frame.",
            "type": "integer",
            "oneOf": values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_close_has_its_own_code_and_actix_sends_that_code() {
        let mut codes: Vec<u16> = SocketClose::ALL.iter().map(|c| c.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), SocketClose::ALL.len());
        for close in SocketClose::ALL {
            assert_eq!(u16::from(actix_ws::CloseCode::from(close)), close.code());
        }
    }
}
