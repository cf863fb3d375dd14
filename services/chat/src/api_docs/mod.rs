//! The service's API descriptions, generated from its Rust types:
//! - OpenAPI 3.1 of the HTTP routes ([`description`]), served at
//!   `GET /openapi.json` and committed as `docs/api/chat.openapi.json`;
//! - JSON Schema of the WebSocket frames ([`frames::schema`]),
//!   `docs/api/chat.frames.schema.json`;
//! - an AsyncAPI 3.0 document tying those frames to the socket URLs
//!   ([`asyncapi::document`]), `docs/api/chat.asyncapi.json`.

pub mod asyncapi;
pub mod frames;

use actix_web::App;
use platform::origins::AllowedOrigins;
use utoipa::{
    OpenApi,
    openapi::{
        Components,
        security::{ApiKey, ApiKeyValue, SecurityScheme},
    },
};
use utoipa_actix_web::AppExt;

use crate::routes;

/// The name of the `?token=<access token>` scheme of the socket URLs.
pub const QUERY_TOKEN: &str = "token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "chatverify chat",
        description = "Rooms, stored history and presence over HTTP; live messages over \
                       a WebSocket whose frames `chat.frames.schema.json` describes. Every \
                       error is `{\"error\": {\"code\", \"message\"}}`; an unknown route is \
                       `404 not_found`, a method a path is not served with `405 \
                       method_not_allowed` (with `Allow`).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "sockets", description = "The WebSocket handshake"),
        (name = "rooms", description = "Memberships, history and presence"),
        (name = "limits", description = "The limits a client shows or checks"),
        (name = "operations", description = "Probes, metrics and this description"),
    )
)]
struct Root;

/// The description, built from a throwaway app with the same routes.
pub fn description(origins: &AllowedOrigins) -> utoipa::openapi::OpenApi {
    let (_, mut openapi) = App::new()
        .into_utoipa_app()
        .openapi(Root::openapi())
        .configure(|cfg| routes::configure(cfg, origins))
        .split_for_parts();
    platform::api_docs::add_bearer_scheme(&mut openapi);
    openapi
        .components
        .get_or_insert_with(Components::new)
        .add_security_scheme(
            QUERY_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "The access token on the socket URL, since browsers cannot set headers \
                 on a WebSocket.",
            ))),
        );
    openapi
}
