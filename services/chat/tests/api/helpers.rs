//! Test apps on real PostgreSQL and Redis: a cluster is one fresh database and one
//! Redis key prefix shared by one or more chat replicas, each a real
//! `Application` on port 0.

use std::{path::PathBuf, time::Duration};

use auth::{Claims, PublicKeyRing, RevocationKeys, RevocationReason, Signer, TokenUser};
use chat::{Application, Config};
use testkit::{keys::KeyPair, postgres::TestDatabase};
use tokio::{sync::oneshot, task::JoinHandle};
use tokio_tungstenite::tungstenite;
use uuid::Uuid;

pub use crate::client::{Client, connect_request};

pub const WAIT: Duration = Duration::from_secs(5);

pub struct Keys {
    pub signer: Signer,
    /// Signs with the second key listed in `JWT_PUBLIC_KEYS` (rotation).
    pub second: Signer,
    /// Same `kid` as the first key, different key pair: a wrong signature.
    pub impostor: Signer,
    /// A key id the app does not know.
    pub unknown: Signer,
    pub public: Vec<PathBuf>,
}

impl Keys {
    fn generate() -> Self {
        let dir = testkit::keys::temp_dir("chat-keys");
        let first = testkit::keys::generate(&dir, "k1");
        let second = testkit::keys::generate(&dir, "k2");
        let impostor = testkit::keys::generate(&testkit::keys::temp_dir("chat-impostor"), "k1");
        let unknown = testkit::keys::generate(&testkit::keys::temp_dir("chat-unknown"), "k9");
        let signer_for = |pair: &KeyPair| {
            let ring = PublicKeyRing::load(&[&pair.public_path]).unwrap();
            Signer::load(&pair.private_path, &ring).unwrap()
        };
        Self {
            signer: signer_for(&first),
            second: signer_for(&second),
            impostor: signer_for(&impostor),
            unknown: signer_for(&unknown),
            public: vec![first.public_path, second.public_path],
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    /// The login session; a second login of the same user gets another.
    pub sid: Uuid,
}

impl User {
    pub fn new(name: &str) -> Self {
        Self {
            id: Uuid::new_v4(),
            name: name.to_owned(),
            sid: Uuid::new_v4(),
        }
    }

    pub fn token_user(&self) -> TokenUser {
        TokenUser {
            id: self.id,
            email: format!("{}@example.com", self.name),
            display_name: self.name.clone(),
        }
    }
}

pub struct Replica {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Replica {
    /// Stops like SIGTERM would and returns what `run_until` returned.
    pub async fn shut_down(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => tokio::time::timeout(Duration::from_secs(20), task).await??,
            None => Ok(()),
        }
    }
}

pub struct Cluster {
    pub db: TestDatabase,
    pub prefix: String,
    pub keys: Keys,
    pub replicas: Vec<Replica>,
    pub redis: platform::redis::Shared,
    pub http: reqwest::Client,
}

pub async fn spawn_app() -> Cluster {
    spawn_cluster(1, |_| {}).await
}

pub async fn spawn_cluster(replicas: usize, tweak: impl Fn(&mut Config)) -> Cluster {
    testkit::logs::init();
    let db = TestDatabase::create().await;
    let prefix = testkit::redis::unique_prefix();
    let keys = Keys::generate();
    let mut config = Config::with_backends(&db.url, &testkit::redis::url(), keys.public.clone());
    config.shared.redis.key_prefix = prefix.clone();
    tweak(&mut config);
    let mut cluster = Cluster {
        db,
        prefix,
        keys,
        replicas: Vec::new(),
        redis: testkit::redis::connection(),
        http: reqwest::Client::new(),
    };
    for _ in 0..replicas {
        cluster.add_replica(config.clone()).await;
    }
    cluster
}

impl Cluster {
    pub async fn add_replica(&mut self, config: Config) {
        let app = Application::build(config).await.expect("app builds");
        let port = app.port();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        self.replicas.push(Replica {
            port,
            stop: Some(stop),
            task: Some(task),
        });
        self.wait_ready(self.replicas.len() - 1).await;
    }

    /// Adds a replica whose Redis traffic goes through a chaos proxy (to cut it
    /// off on demand), with the cluster's settings tweaked by `tweak`.
    pub async fn add_replica_behind_proxy(
        &mut self,
        tweak: impl Fn(&mut Config),
    ) -> testkit::chaos::ChaosProxy {
        let redis_addr = testkit::redis::url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .parse()
            .expect("the test Redis is one host:port");
        let proxy = testkit::chaos::ChaosProxy::start(redis_addr).await;
        let mut config =
            Config::with_backends(&self.db.url, &proxy.url("redis"), self.keys.public.clone());
        config.shared.redis.key_prefix = self.prefix.clone();
        tweak(&mut config);
        self.add_replica(config).await;
        proxy
    }

    /// Waits until the replica's fan-out subscriber is connected.
    pub async fn wait_ready(&self, replica: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if self.get(replica, "/readyz").await.status() == 200 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "replica never became ready"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn teardown(mut self) {
        for replica in &mut self.replicas {
            let _ = replica.shut_down().await;
        }
        testkit::redis::clear(&self.prefix).await;
        self.db.drop_now().await;
    }

    pub fn url(&self, replica: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.replicas[replica].port)
    }

    pub fn ws_url(&self, replica: usize, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.replicas[replica].port)
    }

    pub async fn get(&self, replica: usize, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(replica, path))
            .send()
            .await
            .expect("request")
    }

    pub fn token(&self, user: &User) -> String {
        self.token_with_ttl(user, 900)
    }

    pub fn token_with_ttl(&self, user: &User, ttl: u64) -> String {
        self.keys
            .signer
            .issue_access(
                &user.token_user(),
                user.sid,
                "chatverify",
                "chatverify",
                ttl,
            )
            .expect("sign")
            .0
    }

    pub fn claims(&self, user: &User) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: user.id,
            email: format!("{}@example.com", user.name),
            name: user.name.clone(),
            sid: user.sid,
            jti: Uuid::new_v4(),
            iat: now,
            nbf: now,
            exp: now + 900,
            iss: "chatverify".into(),
            aud: "chatverify".into(),
        }
    }

    /// What the verification service does on logout.
    pub async fn logout(&self, user: &User) {
        let mut conn = self.redis.clone();
        RevocationKeys::new(self.prefix.clone())
            .revoke(&mut conn, user.sid, None, 900, RevocationReason::Logout)
            .await
            .expect("revoke");
    }

    /// Opens a socket with `?token=` and reads its `joined` frame.
    pub async fn connect(&self, replica: usize, path: &str, user: &User) -> Client {
        let mut client = self
            .try_connect(replica, path, &self.token(user))
            .await
            .expect("upgrade");
        let joined = client.next_json().await;
        assert_eq!(joined["type"], "joined", "first frame: {joined}");
        client
    }

    pub async fn try_connect(
        &self,
        replica: usize,
        path: &str,
        token: &str,
    ) -> Result<Client, tungstenite::Error> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{separator}token={token}", self.ws_url(replica, path));
        connect_request(url).await
    }

    pub async fn history(&self, replica: usize, path: &str, user: &User) -> reqwest::Response {
        self.http
            .get(self.url(replica, path))
            .bearer_auth(self.token(user))
            .send()
            .await
            .expect("request")
    }

    /// A counter or gauge from `/metrics`.
    pub async fn metric(&self, replica: usize, name: &str) -> f64 {
        let text = self
            .get(replica, "/metrics")
            .await
            .text()
            .await
            .expect("metrics");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    pub async fn wait_metric(&self, replica: usize, name: &str, at_least: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.metric(replica, name).await < at_least {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never reached {at_least}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
