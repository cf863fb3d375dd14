//! The contract's JSON error body: `{"error": {"code": "...", "message": "..."}}`.
//!
//! [`JsonError`] is the one type that renders it, for every error of both services
//! and of the auth extractor (the `auth` crate depends on this one), and the one the
//! API description reads its error responses from (`crate::api_docs`), so a status,
//! a code or a `Retry-After` cannot be described one way and sent another.

use std::borrow::Cow;

use actix_web::{
    HttpResponse,
    http::{StatusCode, header},
};
use serde::Serialize;

/// An error response: status, the contract's snake_case code, a human message,
/// and the headers that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError<'a> {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'a, str>,
    /// Seconds for the `Retry-After` header every 429 (and a 503 that can tell)
    /// carries; at least 1, since 0 would invite an immediate retry storm.
    pub retry_after: Option<u64>,
    /// `WWW-Authenticate: Bearer` on a 401 (RFC 6750).
    pub bearer_challenge: bool,
}

impl<'a> JsonError<'a> {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'a, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            bearer_challenge: false,
        }
    }

    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    #[must_use]
    pub fn bearer_challenge(mut self) -> Self {
        self.bearer_challenge = true;
        self
    }

    pub fn response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            builder.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
        }
        if self.bearer_challenge {
            builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        builder.json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
            },
        })
    }
}

/// Every error a route can answer with: how it is rendered, and so described.
pub trait ToJsonError {
    fn to_json_error(&self) -> JsonError<'_>;
}

/// The wire form of every JSON error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    #[schema(inline)]
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable and snake_case: what a client matches on.
    pub code: &'a str,
    /// For people; its wording may change.
    pub message: &'a str,
}

/// A path no route serves (or a method the path does not have).
#[derive(Debug, Clone, Copy)]
pub struct NoSuchRoute;

impl ToJsonError for NoSuchRoute {
    fn to_json_error(&self) -> JsonError<'_> {
        JsonError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }
}

/// A body, query string or path segment that does not parse.
#[derive(Debug, Clone)]
pub struct InvalidRequest(pub String);

impl ToJsonError for InvalidRequest {
    fn to_json_error(&self) -> JsonError<'_> {
        JsonError::new(StatusCode::BAD_REQUEST, "invalid_request", &*self.0)
    }
}

/// Makes every body-parsing failure (bad JSON, missing field, wrong type, wrong or
/// absent content type) the contract's `400 invalid_request`.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(16 * 1024)
        // Clients that label JSON as text/plain (or not at all) are still served;
        // what decides is whether the body parses.
        .content_type_required(false)
        .content_type(|_| true)
        .error_handler(|err, _req| {
            let resp = InvalidRequest(format!("invalid request body: {err}"))
                .to_json_error()
                .response();
            actix_web::error::InternalError::from_response(err, resp).into()
        })
}

/// Query strings that do not parse are `400 invalid_request` too.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req| {
        let resp = InvalidRequest(format!("invalid query string: {err}"))
            .to_json_error()
            .response();
        actix_web::error::InternalError::from_response(err, resp).into()
    })
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;

    #[test]
    fn renders_the_contract_body_and_headers() {
        let resp = JsonError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down")
            .retry_after(0)
            .response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            resp.headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        assert!(resp.headers().get(header::WWW_AUTHENTICATE).is_none());
        let body = resp.into_body().try_into_bytes().unwrap_or_default();
        assert_eq!(
            &body[..],
            br#"{"error":{"code":"rate_limited","message":"slow down"}}"#
        );
    }
}
