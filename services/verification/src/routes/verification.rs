use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::{error::ApiError, startup::AppState, tokens, verification};

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
    let client_ip = state.config.trusted_proxies.client_ip(&req);
    let accepted = verification::send_code(&state, &body.email, client_ip).await?;
    Ok(HttpResponse::Accepted().json(accepted))
}

#[tracing::instrument(name = "confirm code", skip_all)]
pub async fn confirm(
    state: web::Data<AppState>,
    body: web::Json<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let user = verification::confirm_code(&state, &body.email, &body.code).await?;
    let pair = tokens::start_session(&state, user).await?;
    Ok(HttpResponse::Ok().json(pair))
}
