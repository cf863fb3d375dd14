//! The service's OpenAPI 3.1 description, generated: the paths from the routes'
//! `service(...)` registrations and `#[utoipa::path]`s, the bodies from their
//! Rust types, the error responses from the errors themselves. Served at
//! `GET /openapi.json` and committed as `docs/api/verification.openapi.json`.

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "chatverify verification",
        description = "Email one-time codes, and the JWT access and rotating refresh tokens \
                       they sign a user in with. Every error is \
                       `{\"error\": {\"code\", \"message\"}}`; an unknown route is \
                       `404 not_found`, a method a path is not served with `405 \
                       method_not_allowed` (with `Allow`).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "sign-in", description = "Codes, token pairs, logout"),
        (name = "account", description = "The signed-in user"),
        (name = "limits", description = "The rules a client shows or checks"),
        (name = "operations", description = "Probes, metrics and this description"),
    )
)]
struct Root;

/// The description, built from a throwaway app with the same routes.
pub fn description() -> utoipa::openapi::OpenApi {
    let (_, mut openapi) = App::new()
        .into_utoipa_app()
        .openapi(Root::openapi())
        .configure(routes::configure)
        .split_for_parts();
    platform::api_docs::add_bearer_scheme(&mut openapi);
    openapi
}
