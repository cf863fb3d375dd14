//! HTTP routes: thin handlers that parse, call the domain, and shape the answer.
//! Each is registered with `service(...)`, which also adds it to the API
//! description (`crate::api_docs`).

mod account;
mod health;
mod limits;
mod tokens;
mod verification;

use utoipa_actix_web::service_config::ServiceConfig;

/// How the API description words a JSON body that does not parse.
const BODY_UNREADABLE: &str =
    "the body is not JSON, lacks a field, or has a field of the wrong type";

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(platform::readiness::healthz)
        .service(health::readyz)
        .service(platform::http_metrics::metrics)
        .service(platform::api_docs::openapi_json)
        .service(limits::limits)
        .service(verification::send)
        .service(verification::confirm)
        .service(tokens::refresh)
        .service(tokens::logout)
        .service(account::me)
        .service(account::update_me);
}
