//! HTTP routes: thin handlers over the domain, the store and the socket tasks.

mod health;
mod history;
mod rooms;
mod ws;

use std::sync::Arc;

use actix_web::web;
use auth::Authenticator;
use platform::{client_ip::TrustedProxies, origins::AllowedOrigins};

use crate::{
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

/// CORS covers the JSON API only: the WebSocket handshake makes its own `Origin`
/// check and must answer a refused origin with the contract's 403.
pub fn configure(cfg: &mut web::ServiceConfig, origins: &AllowedOrigins) {
    cfg.route("/healthz", web::get().to(platform::readiness::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::scope("/v1")
                .wrap(origins.cors())
                .route("/rooms", web::get().to(rooms::list))
                .route("/rooms/{room}/messages", web::get().to(history::messages))
                .route("/rooms/{room}/presence", web::get().to(rooms::presence)),
        )
        // Both spellings of each socket URL: the contract's, and without the slash.
        .route("/ws/chat/", web::get().to(ws::lobby))
        .route("/ws/chat", web::get().to(ws::lobby))
        .route("/ws/chat/{room}/", web::get().to(ws::room))
        .route("/ws/chat/{room}", web::get().to(ws::room));
}
