//! HTTP routes: thin handlers that parse, call the domain, and shape the answer.

mod account;
mod health;
mod tokens;
mod verification;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/v1/verification/send", web::post().to(verification::send))
        .route(
            "/v1/verification/confirm",
            web::post().to(verification::confirm),
        )
        .route("/v1/token/refresh", web::post().to(tokens::refresh))
        .route("/v1/logout", web::post().to(tokens::logout))
        .route("/v1/me", web::get().to(account::me))
        .route("/v1/me", web::patch().to(account::update_me));
}
