//! The service's one HTTP error type, rendered as the contract's JSON error.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use platform::http_error::json_error;

use crate::{domain::room::InvalidRoom, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, expired, revoked or wrongly signed token (or Redis
    /// unavailable for the revocation check): rendered by the auth crate.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    InvalidRoom(#[from] InvalidRoom),
    #[error("this direct room belongs to two other users")]
    Forbidden,
    #[error("origin {0:?} is not allowed")]
    OriginNotAllowed(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("a user may hold at most {0} sockets on one server; close one first")]
    TooManySockets(usize),
    #[error("message history is temporarily unavailable")]
    Unavailable(#[from] StoreError),
    #[error("presence is temporarily unavailable")]
    Redis(anyhow::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Auth(auth::AuthError::Unavailable) | Self::Unavailable(_) | Self::Redis(_) => {
                "unavailable"
            }
            Self::Auth(_) => "invalid_token",
            Self::InvalidRoom(_) => "invalid_room",
            Self::Forbidden | Self::OriginNotAllowed(_) => "forbidden",
            Self::InvalidRequest(_) => "invalid_request",
            Self::TooManySockets(_) => "rate_limited",
            Self::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Auth(e) => e.status_code(),
            Self::InvalidRoom(_) | Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden | Self::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) | Self::Redis(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManySockets(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Auth(e) => e.error_response(),
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                json_error(self.status_code(), self.code(), "internal error", None)
            }
            Self::Unavailable(e) => {
                tracing::warn!(error = %e, "store unavailable");
                json_error(self.status_code(), self.code(), &self.to_string(), Some(1))
            }
            Self::Redis(e) => {
                tracing::warn!(error = %e, "redis unavailable");
                json_error(self.status_code(), self.code(), &self.to_string(), Some(1))
            }
            Self::TooManySockets(_) => {
                json_error(self.status_code(), self.code(), &self.to_string(), Some(5))
            }
            other => json_error(other.status_code(), other.code(), &other.to_string(), None),
        }
    }
}
