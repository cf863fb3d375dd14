use std::time::Duration;

use crate::helpers::{assert_error, json_body, spawn_app, spawn_app_with, unique_email, wrong};

#[tokio::test(flavor = "multi_thread")]
async fn confirm_returns_a_token_pair_and_creates_the_user_once() {
    let app = spawn_app().await;
    let email = unique_email("pair");
    let first = app.login(&email).await;
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 900);
    assert!(
        first["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert!(
        first["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
    assert_eq!(first["user"]["email"], email);
    let name = first["user"]["display_name"].as_str().unwrap_or_default();
    assert!(!name.is_empty() && name.chars().count() <= 32);
    let id = first["user"]["id"].as_str().unwrap_or_default().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());

    // A later login of the same address is the same user.
    app.clear_cooldown(&email).await;
    let again = app.login(&email).await;
    assert_eq!(again["user"]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_code_and_a_never_sent_code_get_the_same_answer() {
    let app = spawn_app().await;
    let email = unique_email("wrong");
    app.send_code(&email).await;
    let code = app.mailed_code(&email, 1).await;
    assert_error(
        app.confirm(&email, &wrong(&code)).await,
        400,
        "invalid_code",
    )
    .await;
    assert_error(
        app.confirm(&unique_email("never"), "123456").await,
        400,
        "invalid_code",
    )
    .await;
    // The right code still works after one wrong guess.
    assert_eq!(app.confirm(&email, &code).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_code_is_invalid() {
    let app = spawn_app_with(|c| c.codes.ttl_secs = 1).await;
    let email = unique_email("expired");
    let resp = app.send_code(&email).await;
    assert_eq!(json_body(resp).await["expires_in"], 1);
    let code = app.mailed_code(&email, 1).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(app.confirm(&email, &code).await, 400, "invalid_code").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_guesses_burn_the_code_until_a_new_one_is_sent() {
    let app = spawn_app_with(|c| {
        c.codes.max_attempts = 3;
        c.codes.resend_cooldown_secs = 0;
    })
    .await;
    let email = unique_email("burn");
    app.send_code(&email).await;
    let code = app.mailed_code(&email, 1).await;
    for _ in 0..2 {
        assert_error(
            app.confirm(&email, &wrong(&code)).await,
            400,
            "invalid_code",
        )
        .await;
    }
    let burning = app.confirm(&email, &wrong(&code)).await;
    assert!(
        burning.headers().contains_key("retry-after"),
        "every 429 carries Retry-After"
    );
    assert_error(burning, 429, "too_many_attempts").await;
    // Burned: even the right code is refused now, still with Retry-After.
    let after = app.confirm(&email, &code).await;
    assert!(after.headers().contains_key("retry-after"));
    assert_error(after, 429, "too_many_attempts").await;

    assert_eq!(app.send_code(&email).await.status(), 202);
    let fresh = app.mailed_code(&email, 2).await;
    assert_eq!(app.confirm(&email, &fresh).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resend_replaces_the_previous_code() {
    let app = spawn_app_with(|c| c.codes.resend_cooldown_secs = 0).await;
    let email = unique_email("resend");
    app.send_code(&email).await;
    let old = app.mailed_code(&email, 1).await;
    app.send_code(&email).await;
    let new = app.mailed_code(&email, 2).await;
    if old != new {
        assert_error(app.confirm(&email, &old).await, 400, "invalid_code").await;
    }
    assert_eq!(app.confirm(&email, &new).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_works_only_once() {
    let app = spawn_app().await;
    let email = unique_email("once");
    app.send_code(&email).await;
    let code = app.mailed_code(&email, 1).await;
    assert_eq!(app.confirm(&email, &code).await.status(), 200);
    assert_error(app.confirm(&email, &code).await, 400, "invalid_code").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_confirms_of_one_code_give_exactly_one_success() {
    let app = spawn_app_with(|c| c.shared.database.pool_size = 8).await;
    let email = unique_email("race");
    app.send_code(&email).await;
    let code = app.mailed_code(&email, 1).await;
    let attempts = (0..20).map(|_| app.confirm(&email, &code));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        19,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn confirm_body_errors_are_invalid_request() {
    let app = spawn_app().await;
    for body in [
        serde_json::json!({"email": "ann@example.com"}),
        serde_json::json!({"code": "123456"}),
        serde_json::json!({"email": "ann@example.com", "code": 123456}),
    ] {
        assert_error(
            app.post_json("/v1/verification/confirm", &body).await,
            400,
            "invalid_request",
        )
        .await;
    }
}
