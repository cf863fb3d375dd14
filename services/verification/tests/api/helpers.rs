use std::time::Duration;

use deadpool_redis::redis;
use platform::settings::SharedSettings;
use serde_json::{Value, json};
use testkit::{
    keys::{self, KeyPair},
    postgres::TestDatabase,
    smtp::SmtpSink,
};
use tokio::{sync::oneshot, task::JoinHandle};
use verification::{
    config::Config,
    domain::{sessions::TokenRules, verification::CodeRules},
    mail::settings::{MailSettings, TransportKind},
    startup::Application,
};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub smtp: SmtpSink,
    /// Dropped with the app, and the database with it.
    _db: TestDatabase,
    pub redis: platform::redis::Shared,
    pub prefix: String,
    pub keys: KeyPair,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

pub fn base_config(db: &TestDatabase, smtp: &SmtpSink, keys: &KeyPair, prefix: &str) -> Config {
    let mut shared = SharedSettings::for_tests(&db.url, &testkit::redis::url());
    shared.redis.key_prefix = prefix.to_owned();
    Config {
        shared,
        private_key: keys.private_path.clone(),
        public_keys: vec![keys.public_path.clone()],
        code_hash_key: None,
        tokens: TokenRules {
            issuer: "chatverify".into(),
            audience: "chatverify".into(),
            access_ttl_secs: 900,
            refresh_ttl_secs: 3600,
            login_max_lifetime_secs: 90 * 86_400,
        },
        codes: CodeRules {
            ttl_secs: 300,
            resend_cooldown_secs: 60,
            max_attempts: 5,
            send_limit_per_address: 10,
            send_limit_per_ip: 50,
            confirm_limit_per_ip: 30,
        },
        mail: MailSettings {
            transport: TransportKind::parse(&smtp.url()).unwrap_or_else(|e| panic!("{e}")),
            from: "no-reply@chatverify.test"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            queue_capacity: 100,
            concurrency: 4,
            max_attempts: 5,
            drain_timeout: Duration::from_secs(10),
        },
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    testkit::logs::init();
    let smtp = SmtpSink::start().await;
    let db = TestDatabase::create().await;
    let dir = keys::temp_dir("verification");
    let keys = keys::generate(&dir, "test-key");
    let prefix = testkit::redis::unique_prefix();
    let mut config = base_config(&db, &smtp, &keys, &prefix);
    customize(&mut config);
    let app = Application::build(config)
        .await
        .unwrap_or_else(|e| panic!("build app: {e:?}"));
    let address = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("{e}")),
        smtp,
        _db: db,
        redis: testkit::redis::connection(),
        prefix,
        keys,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    /// The app's own database.
    pub fn db_url(&self) -> &str {
        &self._db.url
    }

    /// A counter from `/metrics`, 0 when absent.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics: {e}"))
            .text()
            .await
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// A POST that a trusted proxy forwarded with this `X-Forwarded-For`.
    pub async fn post_json_via(
        &self,
        path: &str,
        body: &Value,
        forwarded_for: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("X-Forwarded-For", forwarded_for)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn confirm_via(
        &self,
        email: &str,
        code: &str,
        forwarded_for: &str,
    ) -> reqwest::Response {
        self.post_json_via(
            "/v1/verification/confirm",
            &json!({ "email": email, "code": code }),
            forwarded_for,
        )
        .await
    }

    pub async fn send_code(&self, email: &str) -> reqwest::Response {
        self.post_json("/v1/verification/send", &json!({ "email": email }))
            .await
    }

    pub async fn confirm(&self, email: &str, code: &str) -> reqwest::Response {
        self.post_json(
            "/v1/verification/confirm",
            &json!({ "email": email, "code": code }),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post_json(
            "/v1/token/refresh",
            &json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    pub async fn me(&self, access_token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/v1/me"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /v1/me: {e}"))
    }

    pub async fn logout(&self, access_token: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/v1/logout"))
            .bearer_auth(access_token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("POST /v1/logout: {e}"))
    }

    /// The code mailed in the `nth` (1-based) mail to `email`.
    pub async fn mailed_code(&self, email: &str, nth: usize) -> String {
        self.smtp
            .code_for(email, nth)
            .await
            .unwrap_or_else(|| panic!("no code mailed to {email} (mail #{nth})"))
    }

    /// Sends a code, reads it from the SMTP sink, confirms it: a signed-in user.
    pub async fn login(&self, email: &str) -> Value {
        // Counted before sending: the mail may arrive before `send` returns.
        let nth = self.smtp.mails_to(email).len() + 1;
        let sent = self.send_code(email).await;
        assert_eq!(sent.status(), 202);
        let code = self.mailed_code(email, nth).await;
        let confirmed = self.confirm(email, &code).await;
        assert_eq!(confirmed.status(), 200);
        json_body(confirmed).await
    }

    /// Lets the same address be sent a new code at once (skips the resend cooldown).
    pub async fn clear_cooldown(&self, email: &str) {
        let mut conn = self.redis_conn().await;
        let _: () = redis::cmd("DEL")
            .arg(verification::store::Keys::new(&self.prefix).cooldown(email))
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("DEL: {e}"));
    }

    pub async fn patch_me(&self, access_token: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url("/v1/me"))
            .bearer_auth(access_token)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PATCH /v1/me: {e}"))
    }

    /// A connection to the test Redis (routed by slot on a cluster).
    pub async fn redis_conn(&self) -> platform::redis::Shared {
        self.redis.clone()
    }

    pub async fn redis_hash(&self, key: &str) -> Vec<(String, String)> {
        let mut conn = self.redis_conn().await;
        redis::cmd("HGETALL")
            .arg(format!("{}{key}", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("HGETALL: {e}"))
    }

    /// Stops the app as SIGTERM would and waits for it to finish draining.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .unwrap_or_else(|e| panic!("server task: {e}"))
                .unwrap_or_else(|e| panic!("server: {e:?}"));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // The database goes with `self.db`'s own guard.
        testkit::redis::clear_prefix_blocking(&self.prefix);
    }
}

pub async fn json_body(resp: reqwest::Response) -> Value {
    resp.json()
        .await
        .unwrap_or_else(|e| panic!("response is not JSON: {e}"))
}

/// Asserts the contract's error shape and returns the body.
pub async fn assert_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status for {code}");
    let body = json_body(resp).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// The Retry-After header of a response, in seconds.
pub fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric Retry-After on {}", resp.status()))
}

/// Makes the app believe `X-Forwarded-For` from the test client (127.0.0.1).
pub fn trust_loopback(config: &mut Config) {
    config.shared.trusted_proxies =
        platform::client_ip::TrustedProxies::parse(&["127.0.0.1".into()])
            .unwrap_or_else(|e| panic!("{e}"));
}

/// A six-digit string that is not `code`.
pub fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap_or(0);
    format!("{:06}", (n + 1) % 1_000_000)
}

pub fn unique_email(label: &str) -> String {
    format!("{label}-{}@example.com", uuid::Uuid::new_v4().simple())
}
