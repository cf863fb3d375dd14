//! Redis isolation: every test app gets its own `REDIS_KEY_PREFIX`. The Redis
//! is `TEST_REDIS_URL` (default the local one); it may name a cluster
//! (`redis+cluster://…`), and the helpers here work on either.

pub fn url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn unique_prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

/// A connection to the test Redis, routed by slot on a cluster.
pub fn connection() -> platform::redis::Shared {
    let mut settings = platform::settings::SharedSettings::for_tests("", &url()).redis;
    settings.timeout = std::time::Duration::from_secs(5);
    platform::redis::shared(&settings).unwrap_or_else(|e| panic!("redis: {e}"))
}

/// A pool on one node: for the few tests that need one Redis (a cluster has
/// no single node holding every key).
pub fn pool() -> deadpool_redis::Pool {
    deadpool_redis::Config::from_url(url())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap_or_else(|e| panic!("redis pool: {e}"))
}

/// Deletes every key under a prefix, on every node of a cluster.
pub async fn clear(prefix: &str) {
    match platform::redis::Topology::parse(&url()) {
        Ok(platform::redis::Topology::Cluster(nodes)) => {
            for node in nodes {
                if let Ok(pool) = deadpool_redis::Config::from_url(node)
                    .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                {
                    clear_prefix(&pool, prefix).await;
                }
            }
        }
        _ => clear_prefix(&pool(), prefix).await,
    }
}

/// Deletes every key under a prefix on one node (tests leave codes and rate
/// limits behind). One key at a time: on a cluster node a multi-key DEL would
/// cross slots; a key this node only replicates is refused and left to its master.
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
        for key in &keys {
            let _: Result<(), _> = redis::cmd("DEL").arg(key).query_async(&mut conn).await;
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
            rt.block_on(clear(&prefix));
        }
    })
    .join();
}
