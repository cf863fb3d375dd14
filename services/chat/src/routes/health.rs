//! Readiness: Redis and PostgreSQL answer, and the fan-out subscriber is connected
//! (without it this replica would accept sockets that miss other replicas' messages).

use actix_web::{HttpResponse, web};
use platform::readiness::{postgres_ok, redis_answers, report};

use super::AppState;

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (redis, postgres) =
        tokio::join!(redis_answers(&state.redis), postgres_ok(state.store.pool()));
    report(&[
        ("redis", redis),
        ("postgres", postgres),
        ("fanout", state.fanout.is_connected()),
    ])
}
