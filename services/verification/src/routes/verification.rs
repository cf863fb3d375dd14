use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::{error::ApiError, state::AppState};

#[derive(Deserialize)]
pub struct SendBody {
    email: String,
}

#[derive(Deserialize)]
pub struct ConfirmBody {
    email: String,
    code: String,
}

#[tracing::instrument(name = "send code", skip_all)]
pub async fn send(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SendBody>,
) -> Result<HttpResponse, ApiError> {
    let client_ip = state.trusted_proxies.client_ip(&req);
    let accepted = state.codes.send(&body.email, client_ip).await?;
    Ok(HttpResponse::Accepted().json(accepted))
}

/// A confirmed code signs the user in: the address's user (created on first
/// success) gets a new login.
#[tracing::instrument(name = "confirm code", skip_all)]
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let client_ip = state.trusted_proxies.client_ip(&req);
    let proven = state
        .codes
        .confirm(&body.email, &body.code, client_ip)
        .await?;
    let user = match state.users.verified(&proven.email).await {
        Ok(user) => user,
        Err(e) => {
            state.codes.release(&proven).await;
            return Err(e);
        }
    };
    let pair = state.sessions.start(user, Some(&proven.place)).await?;
    Ok(HttpResponse::Ok().json(pair))
}
