//! The contract's JSON error body: `{"error": {"code": "...", "message": "..."}}`.

use actix_web::{HttpResponse, http::StatusCode};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Debug, Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

/// Builds an error response; `retry_after` (seconds) adds the header a 429 must carry.
pub fn json_error(
    status: StatusCode,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    if let Some(secs) = retry_after {
        builder.insert_header(("Retry-After", secs.max(1).to_string()));
    }
    builder.json(Body {
        error: Inner { code, message },
    })
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
            let resp = json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("invalid request body: {err}"),
                None,
            );
            actix_web::error::InternalError::from_response(err, resp).into()
        })
}

/// Query strings that do not parse are `400 invalid_request` too.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req| {
        let resp = json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("invalid query string: {err}"),
            None,
        );
        actix_web::error::InternalError::from_response(err, resp).into()
    })
}

/// Unknown routes answer in the same JSON shape as everything else.
pub async fn not_found() -> HttpResponse {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such route", None)
}
