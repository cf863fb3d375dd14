//! The served OpenAPI description, the committed one, and the limits it lists.

use serde_json::Value;

use crate::helpers::{assert_error, json_body, spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread")]
async fn the_served_description_is_the_committed_one() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let served = resp.text().await.unwrap_or_default();
    testkit::committed::assert_matches("docs/api/verification.openapi.json", &served);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_description_lists_every_route_with_its_errors() {
    let app = spawn_app().await;
    let doc: Value = json_body(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/readyz",
            "/v1/limits",
            "/v1/logout",
            "/v1/me",
            "/v1/token/refresh",
            "/v1/verification/confirm",
            "/v1/verification/send",
        ]
    );
    let confirm = &paths["/v1/verification/confirm"]["post"]["responses"];
    let codes = |status: &str| {
        confirm[status]["content"]["application/json"]["schema"]["properties"]["error"]
            ["properties"]["code"]["enum"]
            .clone()
    };
    assert_eq!(
        codes("400"),
        serde_json::json!(["invalid_request", "invalid_email", "invalid_code"])
    );
    assert_eq!(
        codes("429"),
        serde_json::json!(["too_many_attempts", "rate_limited"])
    );
    assert_eq!(confirm["429"]["headers"]["Retry-After"]["required"], true);
    let me = &paths["/v1/me"]["get"];
    assert_eq!(me["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(
        me["responses"]["401"]["headers"]["WWW-Authenticate"]["required"],
        true
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_come_from_the_running_configuration() {
    let app = spawn_app_with(|c| {
        c.codes.ttl_secs = 120;
        c.codes.resend_cooldown_secs = 7;
    })
    .await;
    let resp = app
        .client
        .get(app.url("/v1/limits"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 200);
    let limits = json_body(resp).await;
    assert_eq!(
        limits,
        serde_json::json!({
            "code_length": 6,
            "code_ttl_secs": 120,
            "resend_cooldown_secs": 7,
            "max_code_attempts": 5,
            "display_name_min_chars": 1,
            "display_name_max_chars": 32,
        })
    );
    // What it says holds: a mailed code has that many digits.
    app.send_code("limits@example.com").await;
    assert_eq!(app.mailed_code("limits@example.com", 1).await.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_method_on_a_served_path_is_405_with_allow() {
    let app = spawn_app().await;
    let resp = app
        .client
        .delete(app.url("/v1/me"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        resp.headers().get("allow").map(|v| v.as_bytes()),
        Some(&b"GET, PATCH"[..])
    );
    assert_error(resp, 405, "method_not_allowed").await;
    let resp = app
        .client
        .get(app.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_error(resp, 404, "not_found").await;
}
