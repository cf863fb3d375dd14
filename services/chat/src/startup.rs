//! Building and running the application: the same code path for `main` and tests.

use std::{future::Future, net::TcpListener, sync::Arc};

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;
use auth::{Authenticator, PublicKeyRing, RevocationKeys, Verifier};
use platform::{
    api_docs::ApiDescription,
    fallback::{KnownRoutes, fallback},
    http_metrics::MetricsRegistry,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;

use crate::{
    api_docs,
    config::Config,
    fanout::{
        Channels, Hub,
        announce::Announcer,
        hub::HubSettings,
        presence::Presence,
        presence_task::PresenceTask,
        publisher::{PublishQueue, Publisher},
        sequencer::Ordering,
        shares::RoomShares,
        subscriber::{FanoutStatus, Subscriber},
    },
    metrics::Metrics,
    pipeline::{
        backfill::Backfill,
        memberships::{MembershipTask, ReadPacing},
        writer::{QueueLimits, WriterTask},
    },
    routes::{self, AppState},
    socket::SocketContext,
    store::{Store, WriteConnection},
    telemetry::RedactedRootSpan,
};

/// What one room may hold on a replica while it waits for a missing id.
const HOLD_ITEMS: usize = 1024;
const HOLD_BYTES: usize = 4 << 20;

/// Seconds actix waits for open connections after sockets were told to close.
const SHUTDOWN_GRACE_SECS: u64 = 10;

pub struct Application {
    port: u16,
    server: Server,
    hub: Arc<Hub>,
    draining: CancellationToken,
    shutdown: CancellationToken,
    writer: JoinHandle<()>,
    /// Tasks that may still queue events to publish after the sockets closed.
    announcers: Vec<JoinHandle<()>>,
    published: CancellationToken,
    publisher: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    drain_timeout: std::time::Duration,
}

impl Application {
    /// Migrates (unless turned off), connects, starts the background tasks and
    /// binds the listener; the server runs once `run_until*` is awaited.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let shared = &config.shared;
        if shared.database.migrate_on_start {
            let applied = platform::database::migrate(&shared.database.url).await?;
            tracing::info!(?applied, "migrations applied");
        }
        let pg = platform::database::pool_with(&shared.database).context("DATABASE_URL")?;
        // Request-path Redis commands share one multiplexed connection (no
        // checkout round trip).
        let redis = platform::redis::shared(&shared.redis)?;
        let ring = PublicKeyRing::load(&config.jwt_public_keys)?;
        let verifier = Verifier::new(ring, &config.jwt_issuer, &config.jwt_audience);
        let revocation_keys = RevocationKeys::new(shared.redis.key_prefix.clone());
        let auth = Arc::new(Authenticator::new(
            verifier,
            redis.clone(),
            revocation_keys.clone(),
        ));

        let registry = prometheus::Registry::new();
        let metrics = Metrics::register(&registry)?;
        let prometheus = platform::http_metrics::middleware("chat", registry.clone())?;

        let shutdown = CancellationToken::new();
        let draining = CancellationToken::new();
        let hub = Arc::new(Hub::new(
            metrics.clone(),
            HubSettings {
                ordering: Ordering {
                    wait: config.tuning.gap_wait,
                    hold_items: HOLD_ITEMS,
                    hold_bytes: HOLD_BYTES,
                },
                max_sockets_per_user: config.limits.max_sockets_per_user,
                relay_jobs: config.tuning.relay_jobs,
            },
        ));
        let channels = Channels::new(&shared.redis.key_prefix, revocation_keys.channel());
        let replica = uuid::Uuid::new_v4();
        let status = FanoutStatus::default();
        let subscriber = Subscriber {
            settings: shared.redis.clone(),
            client_name: client_name(&shared.redis.key_prefix),
            channels: channels.clone(),
            hub: Arc::clone(&hub),
            metrics: metrics.clone(),
            status: status.clone(),
            revocation_keys: revocation_keys.clone(),
            redis: redis.clone(),
            replica,
            shutdown: shutdown.clone(),
        };
        let store = Store::new(
            pg,
            config.tuning.replay_concurrency,
            config.limits.max_memberships,
        );
        let publish = Arc::new(PublishQueue::new(
            config.tuning.publish_queue,
            config.tuning.publish_queue_bytes,
            metrics.clone(),
        ));
        let published = CancellationToken::new();
        let announce = Announcer::new(Arc::clone(&publish), channels.clone(), replica);
        let publisher = Publisher {
            queue: Arc::clone(&publish),
            redis: redis.clone(),
            channels,
            metrics: metrics.clone(),
            done: published.clone(),
        };
        let presence = Presence::new(
            redis.clone(),
            &shared.redis.key_prefix,
            replica,
            config.tuning.presence_ttl,
        );
        let shares = RoomShares::default();
        let presence_task = PresenceTask {
            presence: presence.clone(),
            events_max: config.tuning.presence_events_max,
            shares: shares.clone(),
            hub: Arc::clone(&hub),
            announce: announce.clone(),
            shutdown: shutdown.clone(),
        };
        let (memberships, membership_task) = MembershipTask::new(
            store.clone(),
            announce.clone(),
            ReadPacing {
                flush_every: config.tuning.read_flush,
                room_receipts_per_sec: config.tuning.room_receipts_per_sec,
                shares,
            },
            shutdown.clone(),
        );
        let (writer, writer_task) = WriterTask::new(
            QueueLimits {
                items: config.tuning.write_queue,
                bytes: config.tuning.write_queue_bytes,
                batch: config.tuning.write_batch,
            },
            WriteConnection::new(&shared.database.url),
            Arc::clone(&hub),
            publish,
            announce.clone(),
            metrics,
            draining.clone(),
        );
        let backfill = Backfill {
            hub: Arc::clone(&hub),
            store: store.clone(),
            status: status.clone(),
            sweep_every: config.tuning.sweep_interval,
            shutdown: shutdown.clone(),
        };
        let tasks = vec![tokio::spawn(subscriber.run()), tokio::spawn(backfill.run())];
        let writer_handle = tokio::spawn(writer_task.run());
        let publisher_handle = tokio::spawn(publisher.run());
        let announcers = vec![
            tokio::spawn(Arc::clone(&hub).run_lingering(shutdown.clone())),
            tokio::spawn(presence_task.run()),
            tokio::spawn(membership_task.run()),
        ];

        let state = web::Data::new(AppState {
            sockets: Arc::new(SocketContext {
                hub: Arc::clone(&hub),
                writer,
                memberships,
                announce,
                store: store.clone(),
                redis: redis.clone(),
                revocation_keys,
                limits: config.limits,
                tuning: config.tuning,
                draining: draining.clone(),
                shutdown: shutdown.clone(),
            }),
            auth: Arc::clone(&auth),
            origins: shared.allowed_origins.clone(),
            proxies: shared.trusted_proxies.clone(),
            store,
            redis,
            fanout: status,
            presence,
        });
        let auth = web::Data::from(auth);
        let openapi = api_docs::description(&shared.allowed_origins);
        let description = web::Data::new(ApiDescription::new(&openapi)?);
        let known_routes = web::Data::new(KnownRoutes::new(&openapi));
        let registry = web::Data::new(MetricsRegistry(registry));
        let listener = TcpListener::bind(shared.listen_addr)
            .with_context(|| format!("LISTEN_ADDR: cannot listen on {}", shared.listen_addr))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(prometheus.clone())
                .wrap(TracingLogger::<RedactedRootSpan>::new())
                .app_data(state.clone())
                .app_data(auth.clone())
                .app_data(platform::http_error::json_config())
                .app_data(platform::http_error::query_config())
                .app_data(routes::path_config())
                .app_data(description.clone())
                .app_data(known_routes.clone())
                .app_data(registry.clone())
                .into_utoipa_app()
                .configure(|cfg| routes::configure(cfg, &state.origins))
                .into_app()
                .default_service(web::to(fallback))
        })
        .workers(shared.workers)
        .on_connect(platform::net::no_delay)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE_SECS)
        .listen(listener)?
        .run();
        tracing::info!(port, "chat listening");
        Ok(Self {
            port,
            server,
            hub,
            draining,
            shutdown,
            writer: writer_handle,
            announcers,
            published,
            publisher: publisher_handle,
            tasks,
            drain_timeout: config.tuning.drain_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(platform::shutdown::signal()).await
    }

    /// Serves until `stop` resolves, then shuts down without losing an
    /// acknowledgement: stops accepting and reading frames, lets the writer
    /// store and publish what is queued and the sockets receive their echoes
    /// (within `CHAT_DRAIN_SECS`), then closes every socket with 1001.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        tokio::select! {
            result = &mut server => {
                self.draining.cancel();
                self.shutdown.cancel();
                self.published.cancel();
                return result.context("server task")?.context("server failed");
            }
            () = stop => {}
        }
        tracing::info!("shutting down");
        handle.pause().await;
        let deadline = tokio::time::Instant::now() + self.drain_timeout;
        self.draining.cancel();
        if tokio::time::timeout_at(deadline, self.writer)
            .await
            .is_err()
        {
            tracing::warn!("the writer did not finish in time");
        }
        // Sockets close themselves once their messages are echoed; the
        // publisher goes on meanwhile.
        while self.hub.socket_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.shutdown.cancel();
        // Presence announces this replica's users gone; read markers are written.
        for task in self.announcers {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), task).await;
        }
        self.published.cancel();
        let publish_deadline =
            deadline.max(tokio::time::Instant::now()) + std::time::Duration::from_secs(2);
        if tokio::time::timeout_at(publish_deadline, self.publisher)
            .await
            .is_err()
        {
            tracing::warn!("publishing did not finish in time");
        }
        handle.stop(true).await;
        server
            .await
            .context("server task")?
            .context("server failed")?;
        for task in self.tasks {
            let _ = task.await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The subscriber's `CLIENT SETNAME`: the key prefix (so an operator, or a test,
/// can find this tenant's connections) and a per-process id. Redis names may not
/// contain spaces or newlines.
fn client_name(prefix: &str) -> String {
    let safe: String = prefix
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    format!("{safe}chat-fanout-{}", uuid::Uuid::new_v4().simple())
}
