//! Connecting and migrating against the real PostgreSQL.

use diesel_async::RunQueryDsl;
use platform::database;

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_apply_once_even_when_replicas_start_together() {
    let db = testkit::postgres::TestDatabase::create().await;
    let runs = (0..4).map(|_| database::migrate(&db.url));
    let applied: Vec<Vec<String>> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e:?}")))
        .collect();
    // One replica applied everything; the others waited on the lock and found nothing.
    let total: usize = applied.iter().map(Vec::len).sum();
    assert_eq!(
        applied.iter().filter(|a| !a.is_empty()).count(),
        1,
        "{applied:?}"
    );
    let embedded =
        diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&database::MIGRATIONS)
            .map(|m| m.len())
            .unwrap_or_default();
    assert!(embedded >= 2);
    assert_eq!(total, embedded);
}

/// Runs where the server offers TLS with the Debian "snakeoil" certificate for
/// `localhost` (the stock Debian cluster); elsewhere there is nothing to connect to.
#[tokio::test(flavor = "multi_thread")]
async fn sslmode_require_verifies_the_server_certificate() {
    let snakeoil = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let db = testkit::postgres::TestDatabase::create().await;
    let mut plain = database::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ssl: Vec<Setting> =
        diesel::sql_query("SELECT setting AS value FROM pg_settings WHERE name = 'ssl'")
            .load(&mut plain)
            .await
            .unwrap_or_default();
    if !matches!(ssl.as_slice(), [s] if s.value == "on") || !std::path::Path::new(snakeoil).exists()
    {
        eprintln!("skipped: this PostgreSQL server does not offer TLS");
        return;
    }
    let tls_url = format!(
        "{}?sslmode=require",
        db.url.replace("127.0.0.1", "localhost")
    );
    let unknown = database::connect_with_ca(&tls_url, None)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        unknown
            .as_deref()
            .is_some_and(|e| e.contains("UnknownIssuer")),
        "{unknown:?}"
    );
    let mut conn = database::connect_with_ca(&tls_url, Some(snakeoil))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let encrypted: Vec<Setting> = diesel::sql_query(
        "SELECT ssl::text AS value FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .load(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(encrypted.as_slice(), [s] if s.value == "true"),
        "the session is not encrypted"
    );
}
