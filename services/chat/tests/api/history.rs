//! `GET /v1/rooms/{room}/messages`.

use serde_json::Value;

use crate::helpers::{User, spawn_cluster};

async fn ids(app: &crate::helpers::Cluster, user: &User, query: &str) -> Vec<i64> {
    let response = app
        .history(0, &format!("/v1/rooms/talk/messages{query}"), user)
        .await;
    assert_eq!(response.status(), 200, "{query}");
    let body: Value = response.json().await.unwrap();
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

async fn error(app: &crate::helpers::Cluster, path: &str, user: &User) -> (u16, String) {
    let response = app.history(0, path, user).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn history_pages_back_with_before_and_catches_up_with_after() {
    let app = spawn_cluster(1, |c| {
        c.limits.rate_per_sec = 10_000;
        c.limits.burst = 10_000;
    })
    .await;
    let ann = User::new("ann");
    let mut a = app.connect(0, "/ws/chat/talk/", &ann).await;
    for i in 1..=120 {
        a.say(&format!("m{i}")).await;
    }
    a.message_ids(120).await;

    assert_eq!(ids(&app, &ann, "").await, (71..=120).collect::<Vec<_>>());
    assert_eq!(
        ids(&app, &ann, "?limit=10").await,
        (111..=120).collect::<Vec<_>>()
    );
    assert_eq!(
        ids(&app, &ann, "?before=111&limit=10").await,
        (101..=110).collect::<Vec<_>>()
    );
    assert_eq!(ids(&app, &ann, "?after=5&limit=3").await, vec![6, 7, 8]);
    assert_eq!(ids(&app, &ann, "?after=5&before=8").await, vec![6, 7]);
    assert_eq!(ids(&app, &ann, "?after=120").await, Vec::<i64>::new());
    assert_eq!(ids(&app, &ann, "?limit=100").await.len(), 100);
    let body: Value = app
        .history(0, "/v1/rooms/talk/messages?limit=1", &ann)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["messages"][0]["message"], "m120");
    assert_eq!(body["messages"][0]["user"], "ann");

    let empty = app.history(0, "/v1/rooms/silent/messages", &ann).await;
    assert_eq!(empty.status(), 200);

    for query in ["?limit=0", "?limit=101", "?limit=abc", "?before=x"] {
        let path = format!("/v1/rooms/talk/messages{query}");
        assert_eq!(
            error(&app, &path, &ann).await,
            (400, "invalid_request".into()),
            "{query}"
        );
    }
    assert_eq!(
        error(&app, "/v1/rooms/No%20Such/messages", &ann).await,
        (400, "invalid_room".into())
    );
    let anonymous = app.get(0, "/v1/rooms/talk/messages").await;
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_token");
    app.teardown().await;
}
