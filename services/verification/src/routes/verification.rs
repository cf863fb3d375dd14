use actix_web::{HttpRequest, HttpResponse, post, web};
use platform::http_error::InvalidRequest;
use serde::Deserialize;

use super::BODY_UNREADABLE;
use crate::{
    domain::{sessions::TokenPair, verification::SendAccepted},
    error::ApiError,
    state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SendBody {
    /// Trimmed and lower-cased; ASCII only, a dot-atom local part and a host name.
    #[schema(example = "ann@example.com", format = Email, max_length = 254)]
    email: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ConfirmBody {
    /// As sent to `send`.
    #[schema(example = "ann@example.com", format = Email, max_length = 254)]
    email: String,
    /// The digits mailed by `send` (see `GET /v1/limits` for how many).
    #[schema(example = "123456")]
    code: String,
}

platform::error_responses!(
    SendErrors = [
        InvalidRequest(BODY_UNREADABLE.into()),
        ApiError::InvalidEmail,
        ApiError::RateLimited {
            reason: "a code was sent to this address moments ago, or too many codes were sent to \
                 it or from this network this hour",
            retry_after: 60,
        },
        ApiError::Unavailable,
    ]
);

platform::error_responses!(
    ConfirmErrors = [
        InvalidRequest(BODY_UNREADABLE.into()),
        ApiError::InvalidEmail,
        ApiError::InvalidCode,
        ApiError::TooManyAttempts { retry_after: 60 },
        ApiError::RateLimited {
            reason: "too many wrong codes from this network this hour",
            retry_after: 3600,
        },
        ApiError::Unavailable,
    ]
);

/// Mails a one-time code to the address.
#[utoipa::path(
    tag = "sign-in",
    responses(
        (status = 202, description = "A code is on its way", body = SendAccepted),
        SendErrors,
    )
)]
#[post("/v1/verification/send")]
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
#[utoipa::path(
    tag = "sign-in",
    responses(
        (status = 200, description = "Signed in: a new login's token pair", body = TokenPair),
        ConfirmErrors,
    )
)]
#[post("/v1/verification/confirm")]
#[tracing::instrument(name = "confirm code", skip_all)]
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let client_ip = state.trusted_proxies.client_ip(&req);
    let pair = state
        .sign_in()
        .confirm(&body.email, &body.code, client_ip)
        .await?;
    Ok(HttpResponse::Ok().json(pair))
}
