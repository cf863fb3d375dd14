//! `GET /v1/limits`: the rules a client shows or checks before sending, from the
//! running configuration rather than copied into the client.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::{
    domain::{codes::CODE_DIGITS, users::DISPLAY_NAME_CHARS},
    state::AppState,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Digits in a mailed code.
    code_length: usize,
    /// Seconds a code stays valid (`CODE_TTL`).
    code_ttl_secs: u64,
    /// Seconds before another code may be sent to one address (`RESEND_COOLDOWN`).
    resend_cooldown_secs: u64,
    /// Wrong guesses that burn a code (`MAX_CODE_ATTEMPTS`).
    max_code_attempts: u32,
    /// Fewest characters of a display name, after trimming.
    display_name_min_chars: usize,
    /// Most characters of a display name, after trimming.
    display_name_max_chars: usize,
}

/// The limits a client needs, as configured.
#[utoipa::path(
    tag = "limits",
    responses((status = 200, description = "The service's limits", body = Limits))
)]
#[get("/v1/limits")]
pub async fn limits(state: web::Data<AppState>) -> HttpResponse {
    let rules = &state.codes.rules;
    HttpResponse::Ok().json(Limits {
        code_length: CODE_DIGITS,
        code_ttl_secs: rules.ttl_secs,
        resend_cooldown_secs: rules.resend_cooldown_secs,
        max_code_attempts: rules.max_attempts,
        display_name_min_chars: *DISPLAY_NAME_CHARS.start(),
        display_name_max_chars: *DISPLAY_NAME_CHARS.end(),
    })
}
