//! HTTP routes: thin handlers over the domain, the store and the socket tasks.

mod errors;
mod health;
mod history;
mod limits;
mod rooms;
mod ws;

use std::sync::Arc;

use actix_web::{ResponseError, web};
use auth::Authenticator;
use platform::{client_ip::TrustedProxies, origins::AllowedOrigins};
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use crate::{
    domain::room::InvalidRoom,
    error::ApiError,
    fanout::{presence::Presence, subscriber::FanoutStatus},
    socket::SocketContext,
    store::Store,
};

/// What the handlers share, registered as `web::Data<AppState>`.
pub struct AppState {
    pub sockets: Arc<SocketContext>,
    pub auth: Arc<Authenticator>,
    pub origins: AllowedOrigins,
    pub proxies: TrustedProxies,
    pub store: Store,
    pub redis: platform::redis::Shared,
    pub fanout: FanoutStatus,
    pub presence: Presence,
}

/// A path segment that does not decode (`%FF`) is no room name either.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, req| {
        let raw = req.match_info().get("room").unwrap_or_default().to_owned();
        let resp = ApiError::InvalidRoom(InvalidRoom(raw)).error_response();
        actix_web::error::InternalError::from_response(err, resp).into()
    })
}

/// Every route; each `service(...)` also adds it to the API description
/// (`crate::api_docs`). CORS covers the JSON API only: the WebSocket handshake
/// makes its own `Origin` check and must answer a refused origin with the
/// contract's 403.
pub fn configure(cfg: &mut ServiceConfig, origins: &AllowedOrigins) {
    cfg.service(platform::readiness::healthz)
        .service(health::readyz)
        .service(platform::http_metrics::metrics)
        .service(platform::api_docs::openapi_json)
        .service(
            scope::scope("/v1")
                .wrap(origins.cors())
                .service(limits::limits)
                .service(rooms::list)
                .service(history::messages)
                .service(rooms::presence),
        )
        .service(ws::lobby_socket)
        .service(ws::room_socket)
        // The other spelling of each socket URL, without the slash.
        .route("/ws/chat", web::get().to(ws::lobby))
        .route("/ws/chat/{room}", web::get().to(ws::room));
}
