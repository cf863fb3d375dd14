//! Settings both services read, parsed once here so their names, defaults and
//! checks cannot drift apart between the services.
//!
//! A service builds [`SharedSettings::from_env`] with its own [`ServiceDefaults`]
//! (listen address, the name of its worker-count variable) and adds its own
//! settings beside it.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::{
    client_ip::TrustedProxies,
    env::{self, EnvError, LogFormat},
    origins::AllowedOrigins,
};

/// `DATABASE_URL`'s default, the same for both services.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/chatverify";
/// `REDIS_URL`'s default.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// What differs between the services in the shared settings.
#[derive(Debug, Clone, Copy)]
pub struct ServiceDefaults {
    /// `LISTEN_ADDR` when unset.
    pub listen_addr: SocketAddr,
    /// The variable naming the HTTP worker count (`HTTP_WORKERS`, `CHAT_WORKERS`).
    pub workers_var: &'static str,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`, checked to parse at start-up.
    pub url: String,
    /// `DATABASE_POOL_SIZE` (default 10): connections per process.
    pub pool_size: usize,
    /// `DATABASE_CA_FILE`: extra CA certificates for `sslmode=require`.
    pub ca_file: Option<PathBuf>,
    /// `MIGRATE_ON_START` (default true).
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `REDIS_URL`, checked to parse at start-up.
    pub url: String,
    /// `REDIS_KEY_PREFIX` (default empty).
    pub key_prefix: String,
    /// `REDIS_POOL_SIZE` (default 16): connections of a pooled Redis client
    /// (shared multiplexed connections need none).
    pub pool_size: usize,
    /// `REDIS_TIMEOUT_MS` (default 2000): longest wait for a connection, a pool
    /// slot or a reply before the request fails as unavailable.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct SharedSettings {
    pub listen_addr: SocketAddr,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    /// HTTP worker threads (default: one per CPU).
    pub workers: usize,
    pub allowed_origins: AllowedOrigins,
    pub trusted_proxies: TrustedProxies,
    pub log_format: LogFormat,
}

impl SharedSettings {
    pub fn from_env(service: ServiceDefaults) -> Result<Self, EnvError> {
        Ok(Self {
            listen_addr: env::parsed_or("LISTEN_ADDR", service.listen_addr)?,
            database: DatabaseSettings::from_env()?,
            redis: RedisSettings::from_env()?,
            workers: count(service.workers_var, default_workers(), 1024)?,
            allowed_origins: AllowedOrigins::from_env()?,
            trusted_proxies: TrustedProxies::from_env()?,
            log_format: LogFormat::from_env()?,
        })
    }

    /// The defaults, with the given backends and port 0: what tests start from.
    pub fn for_tests(database_url: &str, redis_url: &str) -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: DatabaseSettings {
                url: database_url.to_owned(),
                pool_size: 4,
                ca_file: None,
                migrate_on_start: true,
            },
            redis: RedisSettings {
                url: redis_url.to_owned(),
                key_prefix: String::new(),
                pool_size: 4,
                timeout: Duration::from_secs(2),
            },
            workers: 2,
            allowed_origins: AllowedOrigins::default(),
            trusted_proxies: TrustedProxies::default(),
            log_format: LogFormat::Pretty,
        }
    }
}

impl DatabaseSettings {
    pub fn from_env() -> Result<Self, EnvError> {
        let url = env::or("DATABASE_URL", DEFAULT_DATABASE_URL);
        check_database_url(&url)?;
        Ok(Self {
            url,
            pool_size: count("DATABASE_POOL_SIZE", 10, 10_000)?,
            ca_file: env::raw("DATABASE_CA_FILE").map(PathBuf::from),
            migrate_on_start: env::bool_or("MIGRATE_ON_START", true)?,
        })
    }
}

/// A malformed `DATABASE_URL` stops start-up even when nothing connects at once
/// (`MIGRATE_ON_START=false`, lazy pool): otherwise it would surface as 503s.
pub fn check_database_url(url: &str) -> Result<(), EnvError> {
    url.parse::<tokio_postgres::Config>()
        .map(drop)
        .map_err(|e| env::invalid("DATABASE_URL", &redact(url), e.to_string()))
}

impl RedisSettings {
    pub fn from_env() -> Result<Self, EnvError> {
        let url = env::or("REDIS_URL", DEFAULT_REDIS_URL);
        crate::redis::Topology::parse(&url)
            .and_then(|topology| match topology {
                crate::redis::Topology::Single(single) => redis::Client::open(single.as_str())
                    .map(drop)
                    .map_err(|e| e.to_string()),
                crate::redis::Topology::Cluster(_) => Ok(()),
            })
            .map_err(|e| env::invalid("REDIS_URL", &redact(&url), e))?;
        let key_prefix = std::env::var("REDIS_KEY_PREFIX").unwrap_or_default();
        if key_prefix.contains(['{', '}']) {
            // A brace would move keys between Redis Cluster slots unpredictably.
            return Err(env::invalid(
                "REDIS_KEY_PREFIX",
                &key_prefix,
                "must not contain { or }",
            ));
        }
        Ok(Self {
            url,
            key_prefix,
            pool_size: count("REDIS_POOL_SIZE", 16, 10_000)?,
            timeout: Duration::from_millis(
                count("REDIS_TIMEOUT_MS", 2000, 60_000)
                    .map(|ms| u64::try_from(ms).unwrap_or(2000))?,
            ),
        })
    }
}

/// A positive count with an upper bound.
pub fn count(name: &'static str, default: usize, max: usize) -> Result<usize, EnvError> {
    let value = env::positive_or(name, u64::try_from(default).unwrap_or(u64::MAX))?;
    usize::try_from(value)
        .ok()
        .filter(|v| *v <= max)
        .ok_or_else(|| env::invalid(name, &value.to_string(), format!("must be at most {max}")))
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A URL as it may appear in an error: without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_database_urls_are_refused_by_name() {
        for bad in [
            "postgres://host:notaport/db",
            "postgres://h/db?sslmode=sometimes",
        ] {
            let err = check_database_url(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("DATABASE_URL")),
                "{bad}: {err:?}"
            );
        }
        assert!(check_database_url(DEFAULT_DATABASE_URL).is_ok());
        assert!(check_database_url("postgres://u:p@db:5432/x?sslmode=require").is_ok());
    }

    #[test]
    fn passwords_stay_out_of_errors() {
        assert_eq!(
            redact("postgres://ann:s3cret@db:5432/x"),
            "postgres://ann:***@db:5432/x"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
