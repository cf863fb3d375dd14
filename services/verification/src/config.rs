//! Configuration from the environment, as the contract's table lists it.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use auth::{PublicKeyRing, Signer};
use platform::{
    client_ip::TrustedProxies,
    env::{self, EnvError, LogFormat},
    origins::AllowedOrigins,
};

use crate::mail::transport::TransportKind;

/// The code hash key: ≥ 32 secret bytes. Never printed.
#[derive(Clone)]
pub struct CodeHashKey(Arc<[u8]>);

impl CodeHashKey {
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < 32 {
            return Err(format!("must be at least 32 bytes, found {}", bytes.len()));
        }
        Ok(Self(bytes.into()))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for CodeHashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHashKey(<redacted>)")
    }
}

#[derive(Debug, Clone)]
pub struct CodeRules {
    pub ttl_secs: u64,
    pub resend_cooldown_secs: u64,
    pub max_attempts: u32,
    pub send_limit_per_address: u32,
    pub send_limit_per_ip: u32,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: TransportKind,
    pub from: lettre::message::Mailbox,
    pub queue_capacity: usize,
    pub concurrency: usize,
    pub max_attempts: u32,
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub redis_url: String,
    pub database_url: String,
    pub database_pool_size: usize,
    pub private_key: PathBuf,
    pub public_keys: Vec<PathBuf>,
    pub code_hash_key: Option<PathBuf>,
    pub tokens: TokenConfig,
    pub codes: CodeRules,
    pub mail: MailConfig,
    pub allowed_origins: AllowedOrigins,
    pub trusted_proxies: TrustedProxies,
    pub redis_key_prefix: String,
    pub log_format: LogFormat,
    pub migrate_on_start: bool,
    pub workers: usize,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        let public_keys: Vec<PathBuf> = env::list("JWT_PUBLIC_KEYS")
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if public_keys.is_empty() {
            return Err(EnvError::Missing {
                name: "JWT_PUBLIC_KEYS",
            });
        }
        let from_raw = env::or("MAIL_FROM", "no-reply@localhost");
        let from = from_raw
            .parse()
            .map_err(|e| env::invalid("MAIL_FROM", &from_raw, format!("not a mailbox: {e}")))?;
        Ok(Self {
            listen_addr: env::parsed_or("LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 8081)))?,
            redis_url: env::or("REDIS_URL", "redis://127.0.0.1:6379"),
            database_url: env::or(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/chatverify",
            ),
            database_pool_size: usize::try_from(env::positive_or("DATABASE_POOL_SIZE", 10)?)
                .unwrap_or(10),
            private_key: env::required("JWT_PRIVATE_KEY")?.into(),
            public_keys,
            code_hash_key: env::raw("CODE_HASH_KEY").map(PathBuf::from),
            tokens: TokenConfig {
                issuer: env::or("JWT_ISSUER", "chatverify"),
                audience: env::or("JWT_AUDIENCE", "chatverify"),
                access_ttl_secs: env::positive_or("ACCESS_TOKEN_TTL", 900)?,
                refresh_ttl_secs: env::positive_or("REFRESH_TOKEN_TTL", 2_592_000)?,
            },
            codes: CodeRules {
                ttl_secs: env::positive_or("CODE_TTL", 300)?,
                resend_cooldown_secs: env::parsed_or("RESEND_COOLDOWN", 60)?,
                max_attempts: small("MAX_CODE_ATTEMPTS", 5)?,
                send_limit_per_address: small("SEND_LIMIT_PER_ADDRESS", 10)?,
                send_limit_per_ip: small("SEND_LIMIT_PER_IP", 50)?,
            },
            mail: MailConfig {
                transport: TransportKind::parse(&env::or("MAIL_TRANSPORT", "log"))
                    .map_err(|reason| env::invalid("MAIL_TRANSPORT", "<hidden>", reason))?,
                from,
                queue_capacity: usize::try_from(env::positive_or("MAIL_QUEUE_CAPACITY", 10_000)?)
                    .unwrap_or(10_000),
                concurrency: usize::try_from(env::positive_or("MAIL_CONCURRENCY", 16)?)
                    .unwrap_or(16),
                max_attempts: small("MAIL_MAX_ATTEMPTS", 5)?,
                drain_timeout: Duration::from_secs(env::positive_or("MAIL_DRAIN_TIMEOUT", 20)?),
            },
            allowed_origins: AllowedOrigins::from_env()?,
            trusted_proxies: TrustedProxies::from_env()?,
            redis_key_prefix: env::or("REDIS_KEY_PREFIX", ""),
            log_format: LogFormat::from_env()?,
            migrate_on_start: env::bool_or("MIGRATE_ON_START", true)?,
            workers: usize::try_from(env::positive_or(
                "HTTP_WORKERS",
                std::thread::available_parallelism().map_or(2, |n| n.get() as u64),
            )?)
            .unwrap_or(2),
        })
    }

    /// Loads the signing key, the public key ring and the code hash key.
    pub fn load_keys(&self) -> anyhow::Result<(Signer, PublicKeyRing, CodeHashKey)> {
        let ring = PublicKeyRing::load(&self.public_keys)?;
        let signer = Signer::load(&self.private_key, &ring)?;
        let code_key = match &self.code_hash_key {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("CODE_HASH_KEY: cannot read {}", path.display()))?;
                CodeHashKey::new(bytes).map_err(|e| anyhow::anyhow!("CODE_HASH_KEY: {e}"))?
            }
            None => CodeHashKey::new(signer.derive_secret("chatverify code hash key v1").to_vec())
                .map_err(|e| anyhow::anyhow!(e))?,
        };
        Ok((signer, ring, code_key))
    }
}

/// A positive count that fits in u32.
fn small(name: &'static str, default: u32) -> Result<u32, EnvError> {
    let v = env::positive_or(name, u64::from(default))?;
    u32::try_from(v).map_err(|_| env::invalid(name, &v.to_string(), "too large"))
}
