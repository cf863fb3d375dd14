use auth::{PublicKeyRing, Signer, TokenUser};
use serde_json::json;

use crate::helpers::{assert_error, json_body, spawn_app, unique_email};

fn s(v: &serde_json::Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn me_returns_the_signed_in_user() {
    let app = spawn_app().await;
    let email = unique_email("me");
    let pair = app.login(&email).await;
    let resp = app.me(&s(&pair, "access_token")).await;
    assert_eq!(resp.status(), 200);
    let me = json_body(resp).await;
    assert_eq!(me, pair["user"]);
    assert_eq!(me["email"], email);
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_me_changes_the_display_name_and_new_tokens_carry_it() {
    let app = spawn_app().await;
    let pair = app.login(&unique_email("rename")).await;
    let access = s(&pair, "access_token");
    let resp = app
        .patch_me(&access, &json!({"display_name": "  Ann Lee 🌷 "}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_body(resp).await["display_name"], "Ann Lee 🌷");
    assert_eq!(
        json_body(app.me(&access).await).await["display_name"],
        "Ann Lee 🌷"
    );
    let refreshed = json_body(app.refresh(&s(&pair, "refresh_token")).await).await;
    assert_eq!(refreshed["user"]["display_name"], "Ann Lee 🌷");
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_me_refuses_bad_display_names() {
    let app = spawn_app().await;
    let pair = app.login(&unique_email("badname")).await;
    let access = s(&pair, "access_token");
    for body in [
        json!({"display_name": ""}),
        json!({"display_name": "   "}),
        json!({"display_name": "x".repeat(33)}),
        json!({"display_name": "evil\u{202e}name"}),
        json!({"display_name": "line\nbreak"}),
        json!({"display_name": 7}),
        json!({}),
    ] {
        let resp = app.patch_me(&access, &body).await;
        assert_error(resp, 400, "invalid_request").await;
    }
    // 32 characters is fine, counted as characters, not bytes.
    let resp = app
        .patch_me(&access, &json!({"display_name": "é".repeat(32)}))
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn me_refuses_missing_garbage_foreign_and_expired_tokens() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/v1/me"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_error(resp, 401, "invalid_token").await;
    assert_error(app.me("garbage").await, 401, "invalid_token").await;

    // Signed by a key the service does not list.
    let dir = testkit::keys::temp_dir("foreign");
    let foreign = testkit::keys::generate(&dir, "test-key");
    let ring = PublicKeyRing::load(&[&foreign.public_path]).unwrap_or_else(|e| panic!("{e}"));
    let signer = Signer::load(&foreign.private_path, &ring).unwrap_or_else(|e| panic!("{e}"));
    let user = TokenUser {
        id: uuid::Uuid::new_v4(),
        email: "x@example.com".into(),
        display_name: "x".into(),
    };
    let (token, _) = signer
        .issue_access(&user, uuid::Uuid::new_v4(), "chatverify", "chatverify", 60)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_error(app.me(&token).await, 401, "invalid_token").await;

    // Signed by the right key but expired beyond the leeway.
    let ring = PublicKeyRing::load(&[&app.keys.public_path]).unwrap_or_else(|e| panic!("{e}"));
    let signer = Signer::load(&app.keys.private_path, &ring).unwrap_or_else(|e| panic!("{e}"));
    let (_, mut claims) = signer
        .issue_access(&user, uuid::Uuid::new_v4(), "chatverify", "chatverify", 60)
        .unwrap_or_else(|e| panic!("{e}"));
    claims.iat -= 120;
    claims.nbf -= 120;
    claims.exp = claims.iat + 60;
    let expired = signer.sign(&claims).unwrap_or_else(|e| panic!("{e}"));
    assert_error(app.me(&expired).await, 401, "invalid_token").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_me_needs_a_valid_bearer_token() {
    let app = spawn_app().await;
    let patch = app
        .client
        .patch(app.url("/v1/me"))
        .json(&json!({"display_name": "Ann"}));
    assert_error(
        patch.send().await.unwrap_or_else(|e| panic!("{e}")),
        401,
        "invalid_token",
    )
    .await;
    let pair = app.login(&unique_email("patchout")).await;
    let access = s(&pair, "access_token");
    assert_eq!(app.logout(&access, None).await.status(), 204);
    let resp = app.patch_me(&access, &json!({"display_name": "Ann"})).await;
    assert_error(resp, 401, "invalid_token").await;
}
