use actix_web::{HttpResponse, web};
use auth::Authenticated;
use serde::Deserialize;

use crate::{error::ApiError, startup::AppState, store::users};

#[derive(Deserialize)]
pub struct UpdateMe {
    display_name: String,
}

pub async fn me(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut db = state.db.get().await?;
    let user = users::find(&mut db, caller.0.sub)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok(HttpResponse::Ok().json(user))
}

pub async fn update_me(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<UpdateMe>,
) -> Result<HttpResponse, ApiError> {
    let name = valid_display_name(&body.display_name)?;
    let mut db = state.db.get().await?;
    let user = users::set_display_name(&mut db, caller.0.sub, name)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok(HttpResponse::Ok().json(user))
}

/// 1–32 characters after trimming, none of them control or formatting characters
/// (a name is shown to other people, so no bidi tricks or zero-width padding).
fn valid_display_name(raw: &str) -> Result<&str, ApiError> {
    let name = raw.trim();
    let len = name.chars().count();
    if !(1..=32).contains(&len) {
        return Err(ApiError::InvalidRequest(
            "display_name must be 1 to 32 characters".into(),
        ));
    }
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    if name.chars().any(invisible) {
        return Err(ApiError::InvalidRequest(
            "display_name has control or invisible characters".into(),
        ));
    }
    Ok(name)
}
