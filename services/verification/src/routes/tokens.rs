use actix_web::{HttpResponse, web};
use auth::Authenticated;
use serde::Deserialize;

use crate::{error::ApiError, state::AppState};

#[derive(Deserialize)]
pub struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize)]
struct LogoutBody {
    refresh_token: Option<String>,
}

#[tracing::instrument(name = "refresh", skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let pair = state.sessions.refresh(&body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// The body is optional, so it is read as bytes: empty is fine, malformed is not.
#[tracing::instrument(name = "logout", skip_all, fields(user_id = %caller.0.sub))]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let refresh_token = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<LogoutBody>(&body)
            .map_err(|e| ApiError::InvalidRequest(format!("invalid request body: {e}")))?
            .refresh_token
    };
    state
        .sessions
        .logout(&caller.0, refresh_token.as_deref())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
