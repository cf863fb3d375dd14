//! The service's one error type, rendered as the contract's JSON error.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use platform::http_error::json_error;

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

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) | Self::InvalidEmail | Self::InvalidCode => {
                StatusCode::BAD_REQUEST
            }
            Self::TooManyAttempts { .. } | Self::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let retry_after = match self {
            // The contract: every 429 carries Retry-After.
            Self::RateLimited { retry_after, .. } | Self::TooManyAttempts { retry_after } => {
                Some(*retry_after)
            }
            Self::Unavailable => Some(1),
            _ => None,
        };
        if let Self::Internal(e) = self {
            // The whole cause chain goes to the log; the client gets a generic 500.
            tracing::error!(error = ?e, "request failed");
        }
        let mut resp = json_error(
            self.status_code(),
            self.code(),
            &self.to_string(),
            retry_after,
        );
        if matches!(self, Self::InvalidToken) {
            resp.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static("Bearer"),
            );
        }
        resp
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
