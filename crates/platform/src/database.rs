//! PostgreSQL: the pooled async connection and the embedded migrations.

use anyhow::Context;
use diesel::{ConnectionError, ConnectionResult, RunQueryDsl as _};
use diesel_async::{
    AsyncConnection, AsyncPgConnection,
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{
        AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod, deadpool::Pool,
    },
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use tokio_postgres::config::SslMode;

pub type PgPool = Pool<AsyncPgConnection>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Arbitrary but fixed: every replica of every service takes the same lock.
const MIGRATION_LOCK_KEY: i64 = 0x6368_6174_7665_7269; // "chatveri"

/// A pool of `max_size` connections; the extra CA bundle comes from
/// `DATABASE_CA_FILE`. See [`pool_with`].
pub fn pool(url: &str, max_size: usize) -> anyhow::Result<PgPool> {
    let ca_file = crate::env::raw("DATABASE_CA_FILE").map(std::path::PathBuf::from);
    build_pool(url, max_size, ca_file)
}

/// The pool the settings describe.
///
/// A connection is handed out again without a test query: diesel-async's
/// default recycling runs `SELECT 1` on every checkout, a round trip before each
/// request's real query (a third of PostgreSQL's statements in a login). A
/// connection whose server side went away is still caught at checkout, because
/// tokio-postgres closes the client as soon as its socket does, and one that
/// dies in the instant between checkout and use fails that one query, as it
/// could after a test query too.
pub fn pool_with(settings: &crate::settings::DatabaseSettings) -> anyhow::Result<PgPool> {
    build_pool(&settings.url, settings.pool_size, settings.ca_file.clone())
}

fn build_pool(
    url: &str,
    max_size: usize,
    ca_file: Option<std::path::PathBuf>,
) -> anyhow::Result<PgPool> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| {
        let ca_file = ca_file.clone();
        async move { connect_with_ca(url, ca_file.as_deref().and_then(|p| p.to_str())).await }
            .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_redis::Runtime::Tokio1)
        .build()
        .context("building the PostgreSQL pool")
}

/// Applies pending migrations under a session advisory lock, so replicas starting
/// together migrate once and the others wait, then find nothing to do.
pub async fn migrate(url: &str) -> anyhow::Result<Vec<String>> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let conn = tokio::runtime::Handle::current()
            .block_on(connect(&url))
            .context("connecting to PostgreSQL (DATABASE_URL) to migrate")?;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
            .execute(&mut conn)
            .context("taking the migration lock")?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"));
        // The lock dies with the session anyway; unlocking just frees it sooner.
        let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
            .execute(&mut conn);
        applied
    })
    .await
    .context("migration task panicked")?
}

/// One connection. Managed databases want TLS: `sslmode=require` (tokio-postgres
/// reads `verify-ca` and `verify-full` as `require` too) in `DATABASE_URL` connects
/// over rustls, verifying the server's certificate and name against the web PKI
/// roots plus the certificates in `DATABASE_CA_FILE` (a PEM bundle: managed
/// databases often sign with their provider's own CA). Any other mode connects in
/// plain text, as a local or in-cluster database expects.
pub async fn connect(url: &str) -> ConnectionResult<AsyncPgConnection> {
    connect_with_ca(url, crate::env::raw("DATABASE_CA_FILE").as_deref()).await
}

/// [`connect`] with the extra CA bundle given rather than read from the environment.
pub async fn connect_with_ca(
    url: &str,
    ca_file: Option<&str>,
) -> ConnectionResult<AsyncPgConnection> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| ConnectionError::BadConnection(format!("DATABASE_URL: {e}")))?;
    if config.get_ssl_mode() != SslMode::Require {
        return AsyncPgConnection::establish(url).await;
    }
    let tls = tls_config(ca_file).map_err(ConnectionError::BadConnection)?;
    let (client, connection) = config
        .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        .await
        .map_err(|e| ConnectionError::BadConnection(with_causes(&e)))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}

fn tls_config(ca_file: Option<&str>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("DATABASE_CA_FILE: cannot read {path}: {e}"))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!("DATABASE_CA_FILE: no certificate in {path}"));
        }
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())
    .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
}

/// tokio-postgres hides the reason (say, an unknown certificate issuer) in `source()`.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
