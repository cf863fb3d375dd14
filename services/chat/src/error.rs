//! The service's one HTTP error type, rendered as the contract's JSON error.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use platform::http_error::{JsonError, ToJsonError};

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

/// Status, code and headers, as rendered and as the API description lists them.
impl ToJsonError for ApiError {
    fn to_json_error(&self) -> JsonError<'_> {
        let status = match self {
            Self::Auth(e) => return e.to_json_error(),
            Self::InvalidRoom(_) | Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden | Self::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) | Self::Redis(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManySockets(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let error = JsonError::new(status, self.code(), self.to_string());
        match self {
            Self::Unavailable(_) | Self::Redis(_) => error.retry_after(1),
            Self::TooManySockets(_) => error.retry_after(5),
            Self::Internal(_) => JsonError::new(status, self.code(), "internal error"),
            _ => error,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.to_json_error().status
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(e) => tracing::error!(error = ?e, "internal error"),
            Self::Unavailable(e) => tracing::warn!(error = %e, "store unavailable"),
            Self::Redis(e) => tracing::warn!(error = %e, "redis unavailable"),
            _ => {}
        }
        self.to_json_error().response()
    }
}
