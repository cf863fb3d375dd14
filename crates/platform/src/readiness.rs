//! `/healthz` and `/readyz`, the same for both services.

use std::time::Duration;

use actix_web::HttpResponse;
use deadpool_redis::redis;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::database::PgPool;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Redis answers `PING` (any node, on a cluster) within the check timeout.
pub async fn redis_answers(conn: &crate::redis::Shared) -> bool {
    let mut conn = conn.clone();
    let ping = redis::cmd("PING");
    let check = ping.query_async::<String>(&mut conn);
    matches!(tokio::time::timeout(CHECK_TIMEOUT, check).await, Ok(Ok(_)))
}

pub async fn postgres_ok(pool: &PgPool) -> bool {
    let check = async {
        let mut conn = pool.get().await.ok()?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await.ok()
    };
    matches!(
        tokio::time::timeout(CHECK_TIMEOUT, check).await,
        Ok(Some(_))
    )
}

/// 200 when every dependency answers, else 503 naming what is down.
pub fn report(checks: &[(&str, bool)]) -> HttpResponse {
    let body: serde_json::Map<String, serde_json::Value> = checks
        .iter()
        .map(|(name, ok)| ((*name).to_owned(), json!(if *ok { "ok" } else { "down" })))
        .collect();
    if checks.iter().all(|(_, ok)| *ok) {
        HttpResponse::Ok().json(json!({"status": "ready", "checks": body}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable", "checks": body}))
    }
}
