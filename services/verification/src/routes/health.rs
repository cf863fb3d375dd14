use actix_web::{HttpResponse, web};
use platform::readiness;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    readiness::healthz().await
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (redis, postgres) = tokio::join!(
        readiness::redis_answers(&state.redis),
        readiness::postgres_ok(&state.db)
    );
    readiness::report(&[("redis", redis), ("postgres", postgres)])
}
