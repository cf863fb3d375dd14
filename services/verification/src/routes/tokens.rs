use actix_web::{HttpResponse, post, web};
use auth::{AuthError, Authenticated};
use platform::http_error::InvalidRequest;
use serde::Deserialize;

use super::BODY_UNREADABLE;
use crate::{domain::sessions::TokenPair, error::ApiError, state::AppState};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LogoutBody {
    /// Also ends the login of this refresh token, when it is another one.
    refresh_token: Option<String>,
}

platform::error_responses!(
    RefreshErrors = [
        InvalidRequest(BODY_UNREADABLE.into()),
        ApiError::InvalidToken,
        ApiError::Unavailable,
    ]
);

platform::error_responses!(
    LogoutErrors = [
        ApiError::InvalidRequest(
            "the body is neither empty, null nor {\"refresh_token\": \"...\"}".into()
        ),
        AuthError::Missing,
        AuthError::Revoked,
        AuthError::Unavailable,
        ApiError::Unavailable,
    ]
);

/// Rotates a refresh token: the presented one stops working.
#[utoipa::path(
    tag = "sign-in",
    responses(
        (status = 200, description = "The login's next token pair", body = TokenPair),
        RefreshErrors,
    )
)]
#[post("/v1/token/refresh")]
#[tracing::instrument(name = "refresh", skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let pair = state.sessions.refresh(&body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Ends the login: its access and refresh tokens stop working in both services,
/// and its open chat sockets close with 4003.
///
/// The body is optional, so it is read as bytes: empty (or `null`) is fine,
/// malformed is not.
#[utoipa::path(
    tag = "sign-in",
    request_body(content = Option<LogoutBody>, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        LogoutErrors,
    )
)]
#[post("/v1/logout")]
#[tracing::instrument(name = "logout", skip_all, fields(user_id = %caller.0.sub))]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let refresh_token = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        // `null` is no body too, as the description's optional body has it.
        serde_json::from_slice::<Option<LogoutBody>>(&body)
            .map_err(|e| ApiError::InvalidRequest(format!("invalid request body: {e}")))?
            .and_then(|b| b.refresh_token)
    };
    state
        .sessions
        .logout(&caller.0, refresh_token.as_deref())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
