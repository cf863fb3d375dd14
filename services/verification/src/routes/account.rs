use actix_web::{HttpResponse, web};
use auth::Authenticated;
use serde::Deserialize;

use crate::{error::ApiError, state::AppState};

#[derive(Deserialize)]
pub struct UpdateMe {
    display_name: String,
}

pub async fn me(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.users.get(caller.0.sub).await?;
    Ok(HttpResponse::Ok().json(user))
}

pub async fn update_me(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<UpdateMe>,
) -> Result<HttpResponse, ApiError> {
    let user = state.users.rename(caller.0.sub, &body.display_name).await?;
    Ok(HttpResponse::Ok().json(user))
}
