use serde_json::json;

use crate::helpers::{
    assert_error, json_body, retry_after, spawn_app, spawn_app_with, unique_email,
};

#[tokio::test(flavor = "multi_thread")]
async fn send_accepts_an_address_and_mails_a_six_digit_code() {
    let app = spawn_app().await;
    let email = unique_email("ann");
    let resp = app.send_code(&email).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(
        json_body(resp).await,
        json!({"expires_in": 300, "resend_after": 60})
    );
    let code = app.mailed_code(&email, 1).await;
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
}

#[tokio::test(flavor = "multi_thread")]
async fn send_normalizes_the_address_before_mailing() {
    let app = spawn_app().await;
    let email = unique_email("Mixed.Case");
    let resp = app
        .send_code(&format!("  {}  ", email.to_uppercase()))
        .await;
    assert_eq!(resp.status(), 202);
    let mails = app
        .smtp
        .wait_for(&email.to_lowercase(), 1, std::time::Duration::from_secs(5))
        .await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec![email.to_lowercase()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_never_holds_the_code_in_clear_text() {
    let app = spawn_app().await;
    let email = unique_email("clear");
    app.send_code(&email).await;
    let code = app.mailed_code(&email, 1).await;
    let stored = app.redis_hash(&format!("email_verification:{email}")).await;
    assert!(
        !stored.is_empty(),
        "the pending code lives at the contract's key"
    );
    for (field, value) in &stored {
        assert!(
            !field.contains(&code) && !value.contains(&code),
            "{field}={value}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_send_within_the_cooldown_is_rate_limited_with_retry_after() {
    let app = spawn_app().await;
    let email = unique_email("cool");
    assert_eq!(app.send_code(&email).await.status(), 202);
    let resp = app.send_code(&email).await;
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("429 without a numeric Retry-After"));
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_error(resp, 429, "rate_limited").await;
    // The refused request mailed nothing.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.smtp.mails_to(&email).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hourly_cap_per_address_applies_even_without_a_cooldown() {
    let app = spawn_app_with(|c| {
        c.codes.resend_cooldown_secs = 0;
        c.codes.send_limit_per_address = 3;
    })
    .await;
    let email = unique_email("cap");
    for _ in 0..3 {
        assert_eq!(app.send_code(&email).await.status(), 202);
    }
    let resp = app.send_code(&email).await;
    // The hour started with the first send (the counter's expiry is set when
    // a send creates it).
    assert!((3500..=3600).contains(&retry_after(&resp)));
    assert_error(resp, 429, "rate_limited").await;
    // Another address is unaffected.
    assert_eq!(app.send_code(&unique_email("other")).await.status(), 202);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hourly_cap_per_client_ip_spans_addresses() {
    let app = spawn_app_with(|c| c.codes.send_limit_per_ip = 2).await;
    assert_eq!(app.send_code(&unique_email("a")).await.status(), 202);
    assert_eq!(app.send_code(&unique_email("b")).await.status(), 202);
    let refused = app.send_code(&unique_email("c")).await;
    assert!((3500..=3600).contains(&retry_after(&refused)));
    assert_error(refused, 429, "rate_limited").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_is_ignored_unless_the_proxy_is_trusted() {
    let untrusted = spawn_app_with(|c| c.codes.send_limit_per_ip = 1).await;
    let send_from = |app: &crate::helpers::TestApp, ip: &'static str| {
        let req = app
            .client
            .post(app.url("/v1/verification/send"))
            .header("X-Forwarded-For", ip)
            .json(&json!({"email": unique_email("xff")}));
        async move { req.send().await.unwrap_or_else(|e| panic!("{e}")) }
    };
    assert_eq!(send_from(&untrusted, "198.51.100.1").await.status(), 202);
    // A spoofed header does not buy a fresh per-IP allowance.
    assert_eq!(send_from(&untrusted, "198.51.100.2").await.status(), 429);

    let trusted = spawn_app_with(|c| {
        c.codes.send_limit_per_ip = 1;
        c.shared.trusted_proxies =
            platform::client_ip::TrustedProxies::parse(&["127.0.0.1".into()])
                .unwrap_or_else(|e| panic!("{e}"));
    })
    .await;
    assert_eq!(send_from(&trusted, "198.51.100.1").await.status(), 202);
    assert_eq!(send_from(&trusted, "198.51.100.2").await.status(), 202);
    assert_eq!(send_from(&trusted, "198.51.100.1").await.status(), 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_that_are_not_the_expected_json_are_invalid_request() {
    let app = spawn_app().await;
    let cases: Vec<(&str, &str)> = vec![
        ("not json at all", "application/json"),
        ("{\"email\": ", "application/json"),
        ("{}", "application/json"),
        ("{\"email\": 42}", "application/json"),
        ("null", "application/json"),
        ("", "application/json"),
        ("email=ann@example.com", "application/x-www-form-urlencoded"),
    ];
    for (body, content_type) in cases {
        let resp = app
            .client
            .post(app.url("/v1/verification/send"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_error(resp, 400, "invalid_request").await;
    }
    // Valid JSON labelled as text is still served.
    let resp = app
        .client
        .post(app.url("/v1/verification/send"))
        .header("Content-Type", "text/plain")
        .body(json!({"email": unique_email("text")}).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.smtp.mails().len(), 1, "only the valid request mailed");
}
