use std::{process::Command, time::Duration};

use crate::helpers::{assert_error, base_config, spawn_app, spawn_app_with, unique_email};

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    let get = |path: &str| app.client.get(app.url(path)).send();
    assert_eq!(
        get("/healthz")
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        200
    );
    assert_eq!(
        get("/readyz")
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        200
    );
    app.send_code(&unique_email("metrics")).await;
    app.confirm(&unique_email("nobody"), "000000").await;
    let text = get("/metrics")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    for needle in [
        "verification_codes_sent_total 1",
        "verification_confirms_total{outcome=\"invalid\"} 1",
        "verification_mail_queue_depth",
        "verification_http_requests_total",
        "verification_http_requests_duration_seconds_bucket",
        "endpoint=\"/v1/verification/send\"",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_answer_json_404() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/nope"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_error(resp, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_503_when_redis_is_unreachable() {
    let app = spawn_app_with(|c| c.shared.redis.url = "redis://127.0.0.1:1".into()).await;
    let resp = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 503);
    // A request needing Redis is an honest 503, not a 500.
    assert_error(
        app.send_code(&unique_email("down")).await,
        503,
        "unavailable",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_listed_origins() {
    let app = spawn_app_with(|c| {
        c.shared.allowed_origins =
            platform::origins::AllowedOrigins::new(vec!["https://app.example.com".into()])
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/verification/send"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    let ok = preflight("https://app.example.com")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example.com")
    );
    let bad = preflight("https://evil.example.com")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(bad.headers().get("access-control-allow-origin").is_none());
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verification"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_settings_stop_start_up_with_the_variable_named() {
    let dir = testkit::keys::temp_dir("badenv");
    let keys = testkit::keys::generate(&dir, "k1");
    // 31 secret bytes and the newline an editor adds: too short once trimmed.
    let short_key = dir.join("short_code_hash_key");
    std::fs::write(
        &short_key,
        [b'k'; 31].iter().chain(b"\n").copied().collect::<Vec<u8>>(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let short_key = short_key.to_string_lossy().into_owned();
    let cases = [
        (
            vec![("CONFIRM_LIMIT_PER_IP", "lots")],
            "CONFIRM_LIMIT_PER_IP",
        ),
        (vec![("CONFIRM_LIMIT_PER_IP", "0")], "CONFIRM_LIMIT_PER_IP"),
        (
            vec![("REFRESH_TOKEN_TTL", "99999999999")],
            "REFRESH_TOKEN_TTL",
        ),
        (vec![("CODE_TTL", "86401")], "CODE_TTL"),
        (vec![("ACCESS_TOKEN_TTL", "999999999")], "ACCESS_TOKEN_TTL"),
        (vec![("LOGIN_MAX_LIFETIME", "never")], "LOGIN_MAX_LIFETIME"),
        (
            vec![
                ("DATABASE_URL", "postgres://db:notaport/x"),
                ("MIGRATE_ON_START", "false"),
            ],
            "DATABASE_URL",
        ),
        (vec![("REDIS_URL", "carrier://pigeon")], "REDIS_URL"),
        (vec![("CODE_HASH_KEY", short_key.as_str())], "CODE_HASH_KEY"),
        (vec![], "JWT_PRIVATE_KEY"),
        (vec![("MAIL_TRANSPORT", "carrier-pigeon")], "MAIL_TRANSPORT"),
        (vec![("LOG_FORMAT", "xml")], "LOG_FORMAT"),
        (vec![("CODE_TTL", "soon")], "CODE_TTL"),
        (vec![("LISTEN_ADDR", "nowhere")], "LISTEN_ADDR"),
        (vec![("TRUSTED_PROXIES", "10.0.0.0/99")], "TRUSTED_PROXIES"),
        (
            vec![("JWT_PUBLIC_KEYS", "/nonexistent/k9.pem")],
            "JWT_PUBLIC_KEYS",
        ),
    ];
    for (extra, variable) in cases {
        let mut cmd = binary();
        cmd.env("JWT_PUBLIC_KEYS", &keys.public_path);
        if variable != "JWT_PRIVATE_KEY" {
            cmd.env("JWT_PRIVATE_KEY", &keys.private_path);
        }
        for (k, v) in &extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("run binary: {e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{variable}: started anyway");
        assert!(
            stderr.contains(variable),
            "{variable} not named in: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_applies_the_schema_and_sigterm_exits_cleanly() {
    let db = testkit::postgres::TestDatabase::create().await;
    let out = binary()
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Serve from the real binary, then stop it the way an orchestrator does.
    let smtp = testkit::smtp::SmtpSink::start().await;
    let dir = testkit::keys::temp_dir("sigterm");
    let keys = testkit::keys::generate(&dir, "k1");
    let config = base_config(&db, &smtp, &keys, &testkit::redis::unique_prefix());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().map(|a| a.port()).unwrap_or(0)
    };
    let mut child = binary()
        .env("DATABASE_URL", &db.url)
        .env("JWT_PRIVATE_KEY", &keys.private_path)
        .env("JWT_PUBLIC_KEYS", &keys.public_path)
        .env("MAIL_TRANSPORT", smtp.url())
        .env("REDIS_KEY_PREFIX", &config.shared.redis.key_prefix)
        .env("MIGRATE_ON_START", "false")
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the binary never became ready");
    let email = unique_email("bin");
    let resp = client
        .post(format!("http://127.0.0.1:{port}/v1/verification/send"))
        .json(&serde_json::json!({"email": email}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 202);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(exit.success(), "exit status {exit:?}");
    assert_eq!(
        smtp.mails_to(&email).len(),
        1,
        "queued mail was drained before exit"
    );
    testkit::redis::clear_prefix_blocking(&config.shared.redis.key_prefix);
}
