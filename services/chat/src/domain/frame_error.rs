//! Why a frame is refused, and the error code the client sees for it. Both the
//! frame parser and the rules produce these, so they live apart from either.

use serde::{Deserialize, Serialize};

use super::room::InvalidRoom;

/// Error codes of the `error` frame, as the contract lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidRequest,
    NotJoined,
    InvalidRoom,
    Forbidden,
    MessageTooLong,
    EmptyMessage,
    RateLimited,
    Unavailable,
}

/// A frame the server refuses; the socket stays open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame is not valid JSON")]
    InvalidJson,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("not joined to room {0:?}")]
    NotJoined(String),
    #[error(transparent)]
    InvalidRoom(#[from] InvalidRoom),
    #[error("room {0:?} is a direct room of two other users")]
    Forbidden(String),
    #[error("message is longer than {0} characters")]
    MessageTooLong(usize),
    #[error("message is empty")]
    EmptyMessage,
    #[error("too many frames; slow down")]
    RateLimited,
    #[error("the message could not be stored; try again")]
    Unavailable,
}

impl FrameError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson => ErrorCode::InvalidJson,
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::NotJoined(_) => ErrorCode::NotJoined,
            Self::InvalidRoom(_) => ErrorCode::InvalidRoom,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::MessageTooLong(_) => ErrorCode::MessageTooLong,
            Self::EmptyMessage => ErrorCode::EmptyMessage,
            Self::RateLimited => ErrorCode::RateLimited,
            Self::Unavailable => ErrorCode::Unavailable,
        }
    }
}
