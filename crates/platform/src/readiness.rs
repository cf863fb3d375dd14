//! `/healthz` and `/readyz`, the same for both services.

use std::{collections::BTreeMap, time::Duration};

use actix_web::{HttpResponse, get};
use deadpool_redis::redis;
use diesel_async::RunQueryDsl;
use serde::Serialize;

use crate::database::PgPool;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: Alive,
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Alive {
    Ok,
}

/// What `/readyz` answers, with 200 or 503.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: Ready,
    /// Each dependency by name (`redis`, `postgres`, and chat's `fanout`).
    pub checks: BTreeMap<String, Check>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ready {
    Ready,
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Ok,
    Down,
}

/// Liveness: the process serves HTTP.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: Alive::Ok })
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
    let all_ok = checks.iter().all(|(_, ok)| *ok);
    let body = Readiness {
        status: if all_ok {
            Ready::Ready
        } else {
            Ready::Unavailable
        },
        checks: checks
            .iter()
            .map(|(name, ok)| {
                (
                    (*name).to_owned(),
                    if *ok { Check::Ok } else { Check::Down },
                )
            })
            .collect(),
    };
    if all_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
