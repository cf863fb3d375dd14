use std::time::Duration;

use auth::{PublicKeyRing, Verifier};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, json_body, spawn_app, unique_email};

fn s(v: &serde_json::Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

fn verifier(app: &TestApp) -> Verifier {
    let ring = PublicKeyRing::load(&[&app.keys.public_path]).unwrap_or_else(|e| panic!("{e}"));
    Verifier::new(ring, "chatverify", "chatverify")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_token_carries_the_contract_claims() {
    let app = spawn_app().await;
    let email = unique_email("claims");
    let pair = app.login(&email).await;
    let token = s(&pair, "access_token");
    let header = jsonwebtoken::decode_header(&token).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some("test-key"));
    let claims = verifier(&app)
        .verify(&token)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claims.sub.to_string(), s(&pair["user"], "id"));
    assert_eq!(claims.email, email);
    assert_eq!(claims.name, s(&pair["user"], "display_name"));
    assert_eq!(claims.exp - claims.iat, 900);
    assert_eq!(
        (claims.iss.as_str(), claims.aud.as_str()),
        ("chatverify", "chatverify")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_the_old_refresh_token_stops_working() {
    let app = spawn_app().await;
    let first = app.login(&unique_email("rotate")).await;
    let resp = app.refresh(&s(&first, "refresh_token")).await;
    assert_eq!(resp.status(), 200);
    let second = json_body(resp).await;
    assert_ne!(s(&second, "refresh_token"), s(&first, "refresh_token"));
    assert_ne!(s(&second, "access_token"), s(&first, "access_token"));
    assert_eq!(second["user"], first["user"]);
    assert_eq!(second["token_type"], "Bearer");
    let a = verifier(&app)
        .verify(&s(&first, "access_token"))
        .unwrap_or_else(|e| panic!("{e}"));
    let b = verifier(&app)
        .verify(&s(&second, "access_token"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.sid, b.sid, "one login, one sid");

    let third = json_body(app.refresh(&s(&second, "refresh_token")).await).await;
    assert_eq!(app.me(&s(&third, "access_token")).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_refresh_token_revokes_the_whole_login() {
    let app = spawn_app().await;
    let first = app.login(&unique_email("reuse")).await;
    let second = json_body(app.refresh(&s(&first, "refresh_token")).await).await;
    // A stolen copy of the first token is replayed.
    assert_error(
        app.refresh(&s(&first, "refresh_token")).await,
        401,
        "invalid_token",
    )
    .await;
    // Every token of that login is dead now: the legitimate newest ones too.
    assert_error(
        app.refresh(&s(&second, "refresh_token")).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(
        app.me(&s(&second, "access_token")).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(
        app.me(&s(&first, "access_token")).await,
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_refresh_tokens_are_invalid_token() {
    let app = spawn_app().await;
    for token in [
        "",
        "nonsense",
        "00000000000000000000000000000000.AAAA",
        "a.b.c",
    ] {
        assert_error(app.refresh(token).await, 401, "invalid_token").await;
    }
    assert_error(
        app.post_json("/v1/token/refresh", &json!({})).await,
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_access_and_refresh_tokens_and_announces_it() {
    let app = spawn_app().await;
    let pair = app.login(&unique_email("logout")).await;
    let access = s(&pair, "access_token");
    let sid = verifier(&app)
        .verify(&access)
        .unwrap_or_else(|e| panic!("{e}"))
        .sid;

    // As a chat replica listens, on one Redis or a cluster.
    let settings = platform::settings::SharedSettings::for_tests("", &testkit::redis::url()).redis;
    let mut subscription = platform::redis::pubsub::Subscription::connect(&settings, "test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let channel = auth::RevocationKeys::new(app.prefix.clone()).channel();
    subscription
        .subscribe_broadcast(&channel)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let resp = app.logout(&access, None).await;
    assert_eq!(resp.status(), 204);
    assert_error(app.me(&access).await, 401, "invalid_token").await;
    assert_error(
        app.refresh(&s(&pair, "refresh_token")).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(app.logout(&access, None).await, 401, "invalid_token").await;

    let payload = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let push = subscription.pushes.recv().await?;
            if let Some((_, payload)) = platform::redis::pubsub::message(push) {
                return deadpool_redis::redis::from_redis_value::<Vec<u8>>(payload).ok();
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no revocation published"))
    .unwrap_or_else(|| panic!("pubsub closed"));
    let payload: auth::Revocation =
        serde_json::from_slice(&payload).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(payload.sid, sid);
    assert_eq!(payload.reason, auth::RevocationReason::Logout);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_with_another_logins_refresh_token_ends_that_login_too() {
    let app = spawn_app().await;
    let email = unique_email("two");
    let phone = app.login(&email).await;
    app.clear_cooldown(&email).await;
    let laptop = app.login(&email).await;
    let resp = app
        .logout(
            &s(&phone, "access_token"),
            Some(json!({"refresh_token": s(&laptop, "refresh_token")})),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_error(
        app.refresh(&s(&laptop, "refresh_token")).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(
        app.me(&s(&laptop, "access_token")).await,
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_needs_a_valid_bearer_token_and_well_formed_body() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/v1/logout"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_error(resp, 401, "invalid_token").await;
    assert_error(app.logout("not.a.jwt", None).await, 401, "invalid_token").await;

    let pair = app.login(&unique_email("badbody")).await;
    let resp = app
        .client
        .post(app.url("/v1/logout"))
        .bearer_auth(s(&pair, "access_token"))
        .header("Content-Type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_error(resp, 400, "invalid_request").await;
    // The malformed request did not log anyone out.
    assert_eq!(app.me(&s(&pair, "access_token")).await.status(), 200);
}
