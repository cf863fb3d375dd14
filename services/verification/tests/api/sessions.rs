//! Logins over time: a constant Redis footprint, an absolute lifetime, and token
//! endpoints that survive a failing PostgreSQL or Redis.

use std::time::Duration;

use auth::{PublicKeyRing, Verifier};
use deadpool_redis::redis;
use testkit::{chaos::ChaosProxy, redis_server::PrivateRedis};

use crate::helpers::{TestApp, assert_error, json_body, spawn_app, spawn_app_with, unique_email};

fn s(v: &serde_json::Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

fn sid_of(app: &TestApp, access_token: &str) -> uuid::Uuid {
    let ring = PublicKeyRing::load(&[&app.keys.public_path]).unwrap_or_else(|e| panic!("{e}"));
    Verifier::new(ring, "chatverify", "chatverify")
        .verify(access_token)
        .unwrap_or_else(|e| panic!("{e}"))
        .sid
}

/// (fields, bytes) of a login's session in Redis.
async fn footprint(app: &TestApp, sid: uuid::Uuid) -> (u64, u64) {
    let key = verification::store::Keys::new(&app.prefix).session(sid);
    let mut conn = app.redis_conn().await;
    let fields: u64 = redis::cmd("HLEN")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes: Option<u64> = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (fields, bytes.unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread")]
async fn three_hundred_refreshes_leave_the_sessions_redis_footprint_constant() {
    let app = spawn_app().await;
    let first = app.login(&unique_email("loop")).await;
    let sid = sid_of(&app, &s(&first, "access_token"));
    let mut pair = json_body(app.refresh(&s(&first, "refresh_token")).await).await;
    let after_one = footprint(&app, sid).await;
    let mut older = Vec::new();
    for _ in 0..300 {
        older.push(s(&pair, "refresh_token"));
        let resp = app.refresh(&s(&pair, "refresh_token")).await;
        assert_eq!(resp.status(), 200);
        pair = json_body(resp).await;
    }
    assert_eq!(footprint(&app, sid).await, after_one);
    assert!(after_one.0 <= 4, "{after_one:?}");
    // Any earlier generation is still recognized as reuse, and ends the login.
    assert_error(app.refresh(&older[17]).await, 401, "invalid_token").await;
    assert_error(
        app.refresh(&s(&pair, "refresh_token")).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(
        app.me(&s(&pair, "access_token")).await,
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_made_up_older_generation_token_ends_nothing() {
    let app = spawn_app().await;
    let first = app.login(&unique_email("forge")).await;
    let second = json_body(app.refresh(&s(&first, "refresh_token")).await).await;
    // Someone who knows the sid (it is in every access token) but holds no
    // token writes a generation-1 token of their own.
    let sid = sid_of(&app, &s(&second, "access_token"));
    let forged = format!("{}.1.{}", sid.simple(), "A".repeat(43));
    assert_error(app.refresh(&forged).await, 401, "invalid_token").await;
    assert_eq!(app.me(&s(&second, "access_token")).await.status(), 200);
    assert_eq!(
        app.refresh(&s(&second, "refresh_token")).await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_ends_at_its_absolute_lifetime_however_often_refreshed() {
    let app = spawn_app_with(|c| c.tokens.login_max_lifetime_secs = 2).await;
    let first = app.login(&unique_email("lifetime")).await;
    let second = json_body(app.refresh(&s(&first, "refresh_token")).await).await;
    assert_eq!(second["token_type"], "Bearer");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_error(
        app.refresh(&s(&second, "refresh_token")).await,
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_with_the_database_down_fails_and_the_same_token_works_on_retry() {
    let db = testkit::postgres::TestDatabase::create().await;
    let target = db.url.replace("postgres://", "http://");
    let target = reqwest::Url::parse(&target).unwrap_or_else(|e| panic!("{e}"));
    let addr = format!(
        "{}:{}",
        target.host_str().unwrap_or("127.0.0.1"),
        target.port().unwrap_or(5432)
    );
    let proxy = ChaosProxy::start(addr.parse().unwrap_or_else(|e| panic!("{e}"))).await;
    let proxied = format!("postgres://postgres@{}/{}", proxy.addr, db.name);
    let app = spawn_app_with(move |c| c.shared.database.url = proxied).await;
    let pair = app.login(&unique_email("dbdown")).await;

    proxy.cut();
    assert_error(
        app.refresh(&s(&pair, "refresh_token")).await,
        503,
        "unavailable",
    )
    .await;
    proxy.restore();
    // The failed refresh rotated nothing: the token is neither spent nor "reused".
    let resp = app.refresh(&s(&pair, "refresh_token")).await;
    assert_eq!(resp.status(), 200);
    let next = json_body(resp).await;
    assert_eq!(app.me(&s(&next, "access_token")).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_failing_midway_in_redis_ends_nothing_and_a_retry_ends_everything() {
    let redis_server = PrivateRedis::start().await;
    let url = redis_server.url();
    let app = spawn_app_with(move |c| c.shared.redis.url = url).await;
    let pair = app.login(&unique_email("midway")).await;
    let access = s(&pair, "access_token");

    // Redis refuses the session's deletion, one of logout's writes.
    redis_server
        .command(&["ACL", "SETUSER", "default", "-unlink"])
        .await;
    assert_error(app.logout(&access, None).await, 503, "unavailable").await;
    // Nothing happened: not revoked while the refresh token still works (the
    // half-done logout this replaces), but the login whole.
    assert_eq!(app.me(&access).await.status(), 200);

    redis_server
        .command(&["ACL", "SETUSER", "default", "+unlink"])
        .await;
    assert_eq!(app.logout(&access, None).await.status(), 204);
    assert_error(app.me(&access).await, 401, "invalid_token").await;
    assert_error(
        app.refresh(&s(&pair, "refresh_token")).await,
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_that_names_its_user_by_id_still_refreshes() {
    // Sessions stored before they named their owner by address hold the user's
    // id instead; a rolling upgrade must not log those logins out.
    let app = spawn_app().await;
    let pair = app.login(&unique_email("by-id")).await;
    let sid = sid_of(&app, &s(&pair, "access_token"));
    let key = verification::store::Keys::new(&app.prefix).session(sid);
    let mut conn = app.redis_conn().await;
    let email: Option<String> = redis::cmd("HGET")
        .arg(&key)
        .arg("email")
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(email.as_deref(), pair["user"]["email"].as_str());
    let _: () = redis::pipe()
        .hdel(&key, "email")
        .ignore()
        .hset(&key, "user", s(&pair["user"], "id"))
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let resp = app.refresh(&s(&pair, "refresh_token")).await;
    assert_eq!(resp.status(), 200);
    let refreshed = json_body(resp).await;
    assert_eq!(refreshed["user"], pair["user"]);
    assert_eq!(sid_of(&app, &s(&refreshed, "access_token")), sid);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_from_before_generations_keeps_working_after_the_upgrade() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use sha2::{Digest, Sha256};
    let app = spawn_app().await;
    let pair = app.login(&unique_email("legacy")).await;
    let user_id = pair["user"]["id"].as_str().unwrap_or_default().to_owned();
    // A session as the previous release stored it, with one rotation behind it.
    let sid = uuid::Uuid::new_v4();
    let secret = |byte: u8| URL_SAFE_NO_PAD.encode([byte; 32]);
    let digest = |s: &str| {
        Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let (old, current) = (secret(1), secret(2));
    let mut conn = app.redis_conn().await;
    let _: () = redis::cmd("HSET")
        .arg(format!("{}auth:session:{sid}", app.prefix))
        .arg("user")
        .arg(&user_id)
        .arg("current")
        .arg(digest(&current))
        .arg(format!("used:{}", digest(&old)))
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let resp = app.refresh(&format!("{}.{current}", sid.simple())).await;
    assert_eq!(resp.status(), 200);
    let upgraded = json_body(resp).await;
    assert_eq!(upgraded["user"]["id"], user_id.as_str());
    assert_eq!(sid_of(&app, &s(&upgraded, "access_token")), sid);
    let next = json_body(app.refresh(&s(&upgraded, "refresh_token")).await).await;
    assert_eq!(next["token_type"], "Bearer");
    // The old token, now spent, is reuse: the login ends.
    assert_error(
        app.refresh(&format!("{}.{current}", sid.simple())).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(
        app.refresh(&s(&next, "refresh_token")).await,
        401,
        "invalid_token",
    )
    .await;
}
