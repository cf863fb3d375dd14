//! The served OpenAPI description, the committed frames schema and AsyncAPI
//! document, and the limits the description lists.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_cluster};

#[tokio::test(flavor = "multi_thread")]
async fn the_served_description_is_the_committed_one() {
    let app = spawn_app().await;
    let resp = app.get(0, "/openapi.json").await;
    assert_eq!(resp.status(), 200);
    let served = resp.text().await.unwrap();
    testkit::committed::assert_matches("docs/api/chat.openapi.json", &served);
    app.teardown().await;
}

#[test]
fn the_committed_frames_schema_and_asyncapi_are_generated() {
    let frames = chat::api_docs::frames::render().expect("no conflicting definitions");
    testkit::committed::assert_matches("docs/api/chat.frames.schema.json", &frames);
    let openapi = chat::api_docs::description(&platform::origins::AllowedOrigins::default());
    let asyncapi = chat::api_docs::asyncapi::render(&openapi);
    testkit::committed::assert_matches("docs/api/chat.asyncapi.json", &asyncapi);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_description_lists_every_route_with_its_errors() {
    let app = spawn_app().await;
    let doc: Value = app.get(0, "/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    let listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(
        listed,
        [
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/readyz",
            "/v1/limits",
            "/v1/rooms",
            "/v1/rooms/{room}/messages",
            "/v1/rooms/{room}/presence",
            "/ws/chat/",
            "/ws/chat/{room}/",
        ]
    );
    let socket = &paths["/ws/chat/{room}/"]["get"];
    let statuses: Vec<&str> = socket["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(statuses, ["101", "400", "401", "403", "404", "429", "503"]);
    assert_eq!(socket["security"], json!([{"token": []}, {"bearer": []}]));
    assert_eq!(
        socket["responses"]["429"]["headers"]["Retry-After"]["required"],
        true
    );
    let history = &paths["/v1/rooms/{room}/messages"]["get"]["responses"];
    assert_eq!(
        history["400"]["content"]["application/json"]["schema"]["properties"]["error"]["properties"]
            ["code"]["enum"],
        json!(["invalid_request", "invalid_room"])
    );
    assert_eq!(doc["components"]["securitySchemes"]["token"]["in"], "query");
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_come_from_the_running_configuration() {
    let app = spawn_cluster(1, |c| {
        c.limits.max_message_chars = 500;
        c.limits.rate_per_sec = 7;
    })
    .await;
    let resp = app.get(0, "/v1/limits").await;
    assert_eq!(resp.status(), 200);
    let limits: Value = resp.json().await.unwrap();
    assert_eq!(
        limits,
        json!({
            "max_message_chars": 500,
            "max_frame_bytes": 65536,
            "chat_rate": 7,
            "chat_burst": 40,
            "max_client_id_chars": 64,
            "typing_interval_ms": 1000,
            "max_rooms_per_socket": 100,
            "max_sockets_per_user": 32,
            "max_memberships": 1000,
            "history_limit": {"min": 1, "max": 100, "default": 50},
        })
    );
    app.teardown().await;
}
