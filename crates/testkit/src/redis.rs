//! Redis isolation: every test app gets its own `REDIS_KEY_PREFIX`.

pub fn url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn unique_prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

pub fn pool() -> deadpool_redis::Pool {
    deadpool_redis::Config::from_url(url())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap_or_else(|e| panic!("redis pool: {e}"))
}

/// Deletes every key under a prefix (tests leave codes and rate limits behind).
pub async fn clear_prefix(pool: &deadpool_redis::Pool, prefix: &str) {
    use deadpool_redis::redis;
    let Ok(mut conn) = pool.get().await else {
        return;
    };
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, keys)): Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(500)
            .query_async(&mut conn)
            .await
        else {
            return;
        };
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// Clears a prefix from a thread of its own; for `Drop` impls of test apps.
pub fn clear_prefix_blocking(prefix: &str) {
    let prefix = prefix.to_owned();
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(async {
                let pool = pool();
                clear_prefix(&pool, &prefix).await;
            });
        }
    })
    .join();
}
