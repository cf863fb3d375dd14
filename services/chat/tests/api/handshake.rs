//! Everything is decided before the upgrade: a refused client gets an HTTP error
//! with the contract's JSON body, never a socket that opens and closes.

use auth::{RevocationKeys, RevocationReason};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

use crate::helpers::{Cluster, User, connect_request, spawn_app, spawn_cluster};

fn refused(result: Result<crate::helpers::Client, tungstenite::Error>) -> (u16, Value) {
    match result {
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (
                response.status().as_u16(),
                serde_json::from_slice(&body).unwrap_or(Value::Null),
            )
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the socket was accepted"),
    }
}

fn token_with(app: &Cluster, user: &User, edit: impl FnOnce(&mut auth::Claims)) -> String {
    let mut claims = app.claims(user);
    edit(&mut claims);
    app.keys.signer.sign(&claims).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_are_refused_with_401_json_before_the_upgrade() {
    let app = spawn_app().await;
    let user = User::new("ann");
    let revoked = User::new("revoked");
    let mut conn = app.redis.clone();
    RevocationKeys::new(app.prefix.clone())
        .revoke(&mut conn, revoked.sid, None, 900, RevocationReason::Logout)
        .await
        .unwrap();
    let claims = app.claims(&user);
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": "k1"}).to_string()),
        URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims).unwrap()),
    );
    let issue = |signer: &auth::Signer| {
        signer
            .issue_access(
                &user.token_user(),
                user.sid,
                "chatverify",
                "chatverify",
                900,
            )
            .unwrap()
            .0
    };
    let cases = [
        ("garbage", "not-a-jwt".to_owned()),
        ("wrong signature", issue(&app.keys.impostor)),
        ("unknown kid", issue(&app.keys.unknown)),
        (
            "wrong aud",
            token_with(&app, &user, |c| c.aud = "someone-else".into()),
        ),
        (
            "wrong iss",
            token_with(&app, &user, |c| c.iss = "someone-else".into()),
        ),
        ("expired", token_with(&app, &user, |c| c.exp -= 960)),
        ("revoked", app.token(&revoked)),
        ("alg none", unsigned),
    ];
    for (case, token) in cases {
        let (status, body) = refused(app.try_connect(0, "/ws/chat/", &token).await);
        assert_eq!(status, 401, "{case}");
        assert_eq!(body["error"]["code"], "invalid_token", "{case}: {body}");
    }
    let (status, body) = refused(connect_request(app.ws_url(0, "/ws/chat/")).await);
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("invalid_token"))
    );
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_from_header_and_from_the_second_listed_key_are_accepted() {
    let app = spawn_app().await;
    let user = User::new("bob");
    let mut request = app
        .ws_url(0, "/ws/chat/general/")
        .into_client_request()
        .unwrap();
    let bearer = format!("Bearer {}", app.token(&user));
    request
        .headers_mut()
        .insert("Authorization", HeaderValue::from_str(&bearer).unwrap());
    let mut client = connect_request(request).await.unwrap();
    assert_eq!(
        client.next_json().await,
        json!({"type": "joined", "room": "general"})
    );

    let rotated = app
        .keys
        .second
        .issue_access(
            &user.token_user(),
            user.sid,
            "chatverify",
            "chatverify",
            900,
        )
        .unwrap()
        .0;
    let mut client = app.try_connect(0, "/ws/chat/", &rotated).await.unwrap();
    assert_eq!(
        client.next_json().await,
        json!({"type": "joined", "room": "lobby"})
    );
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn origins_outside_allowed_origins_are_refused_with_403() {
    let app = spawn_cluster(1, |c| {
        c.shared.allowed_origins =
            platform::origins::AllowedOrigins::new(vec!["https://chat.example".into()]);
    })
    .await;
    let user = User::new("cy");
    let with_origin = |origin: &str| {
        let url = format!("{}?token={}", app.ws_url(0, "/ws/chat/"), app.token(&user));
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Origin", HeaderValue::from_str(origin).unwrap());
        request
    };
    let (status, body) = refused(connect_request(with_origin("https://evil.example")).await);
    assert_eq!((status, &body["error"]["code"]), (403, &json!("forbidden")));
    assert!(
        connect_request(with_origin("https://chat.example"))
            .await
            .is_ok()
    );
    // A non-browser client sends no Origin at all.
    app.connect(0, "/ws/chat/", &user).await;
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_room_in_the_url_is_400_invalid_room() {
    let app = spawn_app().await;
    let user = User::new("dee");
    for path in [
        "/ws/chat/Not%20A%20Room/",
        "/ws/chat/dm.x.y/",
        "/ws/chat/_under/",
    ] {
        let (status, body) = refused(app.try_connect(0, path, &app.token(&user)).await);
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("invalid_room")),
            "{path}"
        );
    }
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sockets_beyond_the_per_user_limit_are_refused_with_429_before_the_upgrade() {
    let app = spawn_cluster(1, |c| c.limits.max_sockets_per_user = 2).await;
    let ann = User::new("ann");
    let first = app.connect(0, "/ws/chat/", &ann).await;
    let _second = app.connect(0, "/ws/chat/", &ann).await;
    match app.try_connect(0, "/ws/chat/", &app.token(&ann)).await {
        Err(tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 429);
            assert!(r.headers().contains_key("retry-after"));
            let body: serde_json::Value =
                serde_json::from_slice(r.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        }
        other => panic!("expected 429, got {:?}", other.map(|_| "a socket")),
    }
    // Another user is not affected, and a closed socket frees its place.
    app.connect(0, "/ws/chat/", &User::new("bob")).await;
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if app
            .try_connect(0, "/ws/chat/", &app.token(&ann))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place was never freed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.teardown().await;
}
