//! A fresh, empty database per test app, dropped when the guard goes.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// Server URL without a database name; `TEST_DATABASE_URL` overrides.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin().await;
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        Self {
            url: format!("{}/{name}", server_url()),
            name,
        }
    }

    /// Runs SQL (several statements allowed) in this database: a test's own
    /// schema change, such as a trigger that refuses one row.
    pub async fn execute(&self, sql: &str) {
        use diesel_async::SimpleAsyncConnection;
        let mut conn = AsyncPgConnection::establish(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url));
        conn.batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Drops the database, cutting off any connection still open to it.
    pub async fn drop_now(&self) {
        drop_database(&self.name).await;
    }
}

/// Dropping the guard drops the database, on a thread of its own so it works
/// whatever runtime (or none) the test is in.
impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(&name));
            }
        })
        .join();
    }
}

async fn drop_database(name: &str) {
    if let Ok(mut admin) = AsyncPgConnection::establish(&format!("{}/postgres", server_url())).await
    {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
}

async fn admin() -> AsyncPgConnection {
    let url = format!("{}/postgres", server_url());
    AsyncPgConnection::establish(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e} (is PostgreSQL running?)"))
}
