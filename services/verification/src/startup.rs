//! Building and running the service; `main` and the tests both go through here.

use std::{future::Future, net::TcpListener, sync::Arc};

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;
use auth::{Authenticator, RevocationKeys, Signer, Verifier};
use platform::{database, http_error};
use tracing_actix_web::TracingLogger;

use crate::{
    config::{CodeHashKey, Config},
    mail::{self, MailQueue, MailWorker, transport::TransportKind},
    metrics::Metrics,
    routes,
    store::Keys,
};

/// Everything a request handler may need.
pub struct AppState {
    pub config: Config,
    pub redis: deadpool_redis::Pool,
    pub db: database::PgPool,
    pub keys: Keys,
    pub code_key: CodeHashKey,
    pub signer: Signer,
    pub auth: Arc<Authenticator>,
    pub mail: MailQueue,
    pub metrics: Arc<Metrics>,
}

pub struct Application {
    port: u16,
    server: Server,
    mail_worker: MailWorker,
    drain_timeout: std::time::Duration,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let (signer, ring, code_key) = config.load_keys()?;
        if config.migrate_on_start {
            let applied = database::migrate(&config.database_url).await?;
            tracing::info!(?applied, "migrations up to date");
        }
        let db = database::pool(&config.database_url, config.database_pool_size)?;
        let redis = deadpool_redis::Config::from_url(&config.redis_url)
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .context("REDIS_URL")?;
        let metrics = Arc::new(Metrics::new()?);
        let (mail, mail_worker) = mail::start(&config.mail, Arc::clone(&metrics))?;
        if matches!(config.mail.transport, TransportKind::Log) {
            tracing::warn!(
                "MAIL_TRANSPORT=log prints every mail, codes included, to standard output: development only"
            );
        }
        let verifier = Verifier::new(ring, &config.tokens.issuer, &config.tokens.audience);
        tracing::info!(signing_kid = signer.kid(), accepted_kids = ?verifier.ring().kids(), "keys loaded");
        let auth = Arc::new(Authenticator::new(
            verifier,
            redis.clone(),
            RevocationKeys::new(config.redis_key_prefix.clone()),
        ));
        let prometheus =
            platform::http_metrics::middleware("verification", metrics.registry.clone())?;
        let listener = TcpListener::bind(config.listen_addr)
            .with_context(|| format!("LISTEN_ADDR: cannot bind {}", config.listen_addr))?;
        let port = listener.local_addr()?.port();
        let workers = config.workers;
        let drain_timeout = config.mail.drain_timeout;
        let origins = config.allowed_origins.clone();
        let state = web::Data::new(AppState {
            keys: Keys::new(&config.redis_key_prefix),
            config,
            redis,
            db,
            code_key,
            signer,
            auth: Arc::clone(&auth),
            mail,
            metrics,
        });
        let server = HttpServer::new(move || {
            App::new()
                .wrap(origins.cors())
                .wrap(prometheus.clone())
                .wrap(TracingLogger::default())
                .app_data(state.clone())
                .app_data(web::Data::from(Arc::clone(&auth)))
                .app_data(http_error::json_config())
                .configure(routes::configure)
                .default_service(web::to(http_error::not_found))
        })
        .workers(workers)
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
            drain_timeout,
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
        handle.stop(true).await;
        let result = server.await;
        // The server's app state held the last mail queue senders; they are gone
        // now, so the worker sees the queue close once it is empty.
        self.mail_worker.drain(self.drain_timeout).await;
        tracing::info!("verification stopped");
        finish(result)
    }
}

fn finish(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    result.context("server task")?.context("server")
}
