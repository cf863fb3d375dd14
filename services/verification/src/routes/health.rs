use actix_web::{HttpResponse, get, web};
use platform::readiness::{self, Readiness};

use crate::state::AppState;

/// Readiness: Redis and PostgreSQL answer.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Every dependency answers", body = Readiness),
        (status = 503, description = "A dependency is down; `checks` says which", body = Readiness),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (redis, postgres) = tokio::join!(
        readiness::redis_answers(&state.redis),
        readiness::postgres_ok(&state.db)
    );
    readiness::report(&[("redis", redis), ("postgres", postgres)])
}
