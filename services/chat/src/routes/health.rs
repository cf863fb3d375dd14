//! Readiness: Redis and PostgreSQL answer, and the fan-out subscriber is connected
//! (without it this replica would accept sockets that miss other replicas' messages).

use actix_web::{HttpResponse, get, web};
use platform::readiness::{Readiness, postgres_ok, redis_answers, report};

use super::AppState;

/// Readiness: Redis, PostgreSQL and the fan-out subscriber.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Every dependency answers", body = Readiness),
        (status = 503, description = "A dependency is down; `checks` says which", body = Readiness),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (redis, postgres) =
        tokio::join!(redis_answers(&state.redis), postgres_ok(state.store.pool()));
    report(&[
        ("redis", redis),
        ("postgres", postgres),
        ("fanout", state.fanout.is_connected()),
    ])
}
