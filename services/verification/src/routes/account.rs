use actix_web::{HttpResponse, get, patch, web};
use auth::{AuthError, Authenticated};
use platform::http_error::InvalidRequest;
use serde::Deserialize;

use super::BODY_UNREADABLE;
use crate::{
    domain::users::{DISPLAY_NAME_CHARS, display_name_pattern},
    error::ApiError,
    state::AppState,
    store::users::User,
};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateMe {
    /// Trimmed; no control, invisible or bidirectional formatting characters.
    #[schema(schema_with = display_name_schema)]
    display_name: String,
}

fn display_name_schema() -> utoipa::openapi::Object {
    let mut schema = utoipa::openapi::Object::with_type(utoipa::openapi::Type::String);
    schema.pattern = Some(display_name_pattern());
    schema.description = Some(format!(
        "{} to {} characters once trimmed; no control, invisible or bidirectional \
         formatting characters.",
        DISPLAY_NAME_CHARS.start(),
        DISPLAY_NAME_CHARS.end()
    ));
    schema
}

platform::error_responses!(
    MeErrors = [
        AuthError::Missing,
        AuthError::Revoked,
        ApiError::InvalidToken,
        AuthError::Unavailable,
        ApiError::Unavailable,
    ]
);

platform::error_responses!(
    UpdateMeErrors = [
        InvalidRequest(BODY_UNREADABLE.into()),
        ApiError::InvalidRequest(
            "display_name must be 1 to 32 characters, none of them control or invisible".into()
        ),
        AuthError::Missing,
        AuthError::Revoked,
        ApiError::InvalidToken,
        AuthError::Unavailable,
        ApiError::Unavailable,
    ]
);

/// The caller.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = User), MeErrors)
)]
#[get("/v1/me")]
pub async fn me(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.users.get(caller.0.sub).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// Renames the caller. Tokens issued before keep the old name until refreshed.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The renamed caller", body = User), UpdateMeErrors)
)]
#[patch("/v1/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<UpdateMe>,
) -> Result<HttpResponse, ApiError> {
    let user = state.users.rename(caller.0.sub, &body.display_name).await?;
    Ok(HttpResponse::Ok().json(user))
}
