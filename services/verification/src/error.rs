//! The service's one error type, rendered as the contract's JSON error.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use platform::http_error::{JsonError, ToJsonError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("not a valid email address")]
    InvalidEmail,
    #[error("the code is wrong, expired or was never sent")]
    InvalidCode,
    /// `retry_after`: seconds until a new code may be requested.
    #[error("too many wrong codes: request a new code")]
    TooManyAttempts { retry_after: u64 },
    #[error("too many requests: {reason}")]
    RateLimited {
        reason: &'static str,
        retry_after: u64,
    },
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("the service is temporarily unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidEmail => "invalid_email",
            Self::InvalidCode => "invalid_code",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::RateLimited { .. } => "rate_limited",
            Self::InvalidToken => "invalid_token",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// Status, code and headers, as rendered and as the API description lists them.
impl ToJsonError for ApiError {
    fn to_json_error(&self) -> JsonError<'_> {
        let status = match self {
            Self::InvalidRequest(_) | Self::InvalidEmail | Self::InvalidCode => {
                StatusCode::BAD_REQUEST
            }
            Self::TooManyAttempts { .. } | Self::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let error = JsonError::new(status, self.code(), self.to_string());
        match self {
            // The contract: every 429 carries Retry-After.
            Self::RateLimited { retry_after, .. } | Self::TooManyAttempts { retry_after } => {
                error.retry_after(*retry_after)
            }
            Self::Unavailable => error.retry_after(1),
            Self::InvalidToken => error.bearer_challenge(),
            _ => error,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.to_json_error().status
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(e) = self {
            // The whole cause chain goes to the log; the client gets a generic 500.
            tracing::error!(error = ?e, "request failed");
        }
        self.to_json_error().response()
    }
}

impl From<deadpool_redis::PoolError> for ApiError {
    fn from(e: deadpool_redis::PoolError) -> Self {
        tracing::warn!(error = %e, "redis pool");
        Self::Unavailable
    }
}

impl From<deadpool_redis::redis::RedisError> for ApiError {
    fn from(e: deadpool_redis::redis::RedisError) -> Self {
        tracing::warn!(error = %e, "redis command");
        Self::Unavailable
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(error = %e, "postgres pool");
        Self::Unavailable
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            // The connection died under the query: PostgreSQL is (briefly)
            // unreachable, which is worth a retry, not a 500.
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | Error::BrokenTransactionManager => {
                tracing::warn!(error = %e, "postgres connection lost");
                Self::Unavailable
            }
            e => Self::Internal(anyhow::Error::new(e).context("database query")),
        }
    }
}
