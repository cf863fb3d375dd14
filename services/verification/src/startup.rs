//! Building and running the service; `main` and the tests both go through here.

use std::{future::Future, net::TcpListener, sync::Arc};

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;
use auth::{Authenticator, RevocationKeys, Verifier};
use platform::{
    api_docs::ApiDescription,
    database,
    fallback::{KnownRoutes, fallback},
    http_error,
    http_metrics::MetricsRegistry,
};
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;

use crate::{
    api_docs,
    config::Config,
    domain::{
        refresh_token::TagKey,
        sessions::{Sessions, TokenRules},
        user_upserts::UserUpserts,
        users::Users,
        verification::Codes,
    },
    mail::{self, MailWorker, settings::TransportKind},
    metrics::Metrics,
    routes,
    state::AppState,
    store::Keys,
};

pub struct Application {
    port: u16,
    server: Server,
    mail_worker: MailWorker,
    drain_timeout: std::time::Duration,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let keys = config.load_keys()?;
        let shared = &config.shared;
        if shared.database.migrate_on_start {
            let applied = database::migrate(&shared.database.url).await?;
            tracing::info!(?applied, "migrations up to date");
        }
        let db = database::pool_with(&shared.database)?;
        let redis = platform::redis::shared(&shared.redis)?;
        let metrics = Arc::new(Metrics::new()?);
        let (mail, mail_worker) = mail::start(&config.mail, Arc::clone(&metrics))?;
        if matches!(config.mail.transport, TransportKind::Log) {
            warn_log_transport();
        }
        let verifier = Verifier::new(keys.ring, &config.tokens.issuer, &config.tokens.audience);
        tracing::info!(signing_kid = keys.signer.kid(), accepted_kids = ?verifier.ring().kids(), "keys loaded");
        // Only bearer-authenticated routes (me, logout) use it, never a login.
        let auth = Arc::new(Authenticator::new(
            verifier,
            platform::redis::shared(&shared.redis)?,
            RevocationKeys::new(shared.redis.key_prefix.clone()),
        ));
        let prometheus =
            platform::http_metrics::middleware("verification", metrics.registry.clone())?;
        let registry = web::Data::new(MetricsRegistry(metrics.registry.clone()));
        let listener = TcpListener::bind(shared.listen_addr)
            .with_context(|| format!("LISTEN_ADDR: cannot bind {}", shared.listen_addr))?;
        let port = listener.local_addr()?.port();
        let parts = Parts {
            codes: Codes {
                redis: redis.clone(),
                keys: Keys::new(&shared.redis.key_prefix),
                code_key: keys.code_key.clone(),
                rules: config.codes.clone(),
                mail,
                mail_from: config.mail.from.clone(),
                metrics: Arc::clone(&metrics),
            },
            signer: Arc::new(keys.signer),
            tag_key: TagKey::derive(&keys.code_key),
            token_rules: config.tokens.clone(),
            metrics,
            trusted_proxies: shared.trusted_proxies.clone(),
            redis,
            db,
            settings: shared.clone(),
        };
        let origins = shared.allowed_origins.clone();
        let openapi = api_docs::description();
        let description = web::Data::new(ApiDescription::new(&openapi)?);
        let known_routes = web::Data::new(KnownRoutes::new(&openapi));
        let server = HttpServer::new(move || {
            let state = web::Data::new(parts.for_this_worker());
            App::new()
                .wrap(origins.cors())
                .wrap(prometheus.clone())
                .wrap(TracingLogger::default())
                .app_data(state)
                .app_data(web::Data::from(Arc::clone(&auth)))
                .app_data(description.clone())
                .app_data(known_routes.clone())
                .app_data(registry.clone())
                .app_data(http_error::json_config())
                .into_utoipa_app()
                .configure(routes::configure)
                .into_app()
                .default_service(web::to(fallback))
        })
        .workers(shared.workers)
        .on_connect(platform::net::no_delay)
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
        tracing::info!(port, "verification listening");
        Ok(Self {
            port,
            server,
            mail_worker,
            drain_timeout: config.mail.drain_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets requests in
    /// flight finish, and drains the mail queue.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        tokio::select! {
            result = &mut server => return finish(result),
            () = shutdown => {}
        }
        // One budget for the mail: `MAIL_DRAIN_TIMEOUT` from the signal.
        let drain_by = tokio::time::Instant::now() + self.drain_timeout;
        // Stop accepting, then let the mail attempts under way on the workers
        // finish before the workers (whose runtimes they run on) stop.
        handle.pause().await;
        self.mail_worker
            .stop_attempts_on_workers(self.drain_timeout)
            .await;
        handle.stop(true).await;
        let result = server.await;
        // The server's app state held the last mail queue senders; they are gone
        // now, so the worker sees the queue close once it is empty.
        let left = drain_by.saturating_duration_since(tokio::time::Instant::now());
        self.mail_worker.drain(left).await;
        tracing::info!("verification stopped");
        finish(result)
    }
}

/// The application state's parts, from which each HTTP worker builds its own.
#[derive(Clone)]
struct Parts {
    codes: Codes,
    signer: Arc<auth::Signer>,
    tag_key: TagKey,
    token_rules: TokenRules,
    metrics: Arc<Metrics>,
    trusted_proxies: platform::client_ip::TrustedProxies,
    redis: platform::redis::Shared,
    db: database::PgPool,
    settings: platform::settings::SharedSettings,
}

impl Parts {
    /// Runs on the worker's own thread. Each worker gets its own Redis
    /// connection, its share of the PostgreSQL pool and its own mail transport,
    /// created on its own runtime, so a reply wakes the thread that waits for
    /// it. With one connection for all, every Redis or PostgreSQL reply first
    /// woke the thread that owned the socket, which then woke the worker: at 400
    /// logins/s about 60 % of the service's CPU went to those thread switches
    /// (perf).
    fn for_this_worker(&self) -> AppState {
        let mut database = self.settings.database.clone();
        database.pool_size = database.pool_size.div_ceil(self.settings.workers.max(1));
        let redis = platform::redis::shared(&self.settings.redis).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "worker Redis connection; sharing the first one");
            self.redis.clone()
        });
        let db = database::pool_with(&database).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "worker PostgreSQL pool; sharing the first one");
            self.db.clone()
        });
        let users = Users {
            upserts: UserUpserts::start(db.clone(), Arc::clone(&self.metrics)),
            db: db.clone(),
        };
        AppState {
            codes: Codes {
                redis: redis.clone(),
                mail: self.codes.mail.for_this_worker(),
                ..self.codes.clone()
            },
            sessions: Sessions {
                redis: redis.clone(),
                keys: self.codes.keys.clone(),
                signer: Arc::clone(&self.signer),
                tag_key: self.tag_key.clone(),
                rules: self.token_rules.clone(),
                users: users.clone(),
            },
            users,
            trusted_proxies: self.trusted_proxies.clone(),
            redis,
            db,
        }
    }
}

/// `MAIL_TRANSPORT=log` writes each mail, code included, to standard output,
/// which is exactly what container runtimes and log shippers collect: in a
/// deployment the codes would land in the log store for anyone who reads it.
fn warn_log_transport() {
    let text = "MAIL_TRANSPORT=log prints every verification code to standard output, \
                where log collectors and shippers pick it up like any other log line: \
                anyone who can read the logs can sign in as any user. Development only; \
                set MAIL_TRANSPORT to an SMTP relay in any deployment.";
    tracing::warn!("{text}");
    eprintln!("\n!!! WARNING: {text}\n");
}

fn finish(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    result.context("server task")?.context("server")
}
