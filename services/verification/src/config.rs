//! Configuration from the environment, as the contract's table lists it. The
//! settings both services read come from `platform::settings`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use auth::{PublicKeyRing, Signer};
use platform::{
    env::{self, EnvError},
    settings::{ServiceDefaults, SharedSettings},
};

use crate::{
    domain::{codes::CodeHashKey, sessions::TokenRules, verification::CodeRules},
    mail::settings::{MailSettings, TransportKind},
};

const DAY: u64 = 86_400;
/// Upper bounds keep every TTL far inside what Redis' `EXPIRE` accepts (a
/// huge value used to make every confirm fail there) and catch unit mistakes
/// (milliseconds typed as seconds).
const MAX_CODE_TTL: u64 = DAY;
const MAX_ACCESS_TTL: u64 = DAY;
const MAX_REFRESH_TTL: u64 = 365 * DAY;

#[derive(Debug, Clone)]
pub struct Config {
    pub shared: SharedSettings,
    pub private_key: PathBuf,
    pub public_keys: Vec<PathBuf>,
    pub code_hash_key: Option<PathBuf>,
    pub tokens: TokenRules,
    pub codes: CodeRules,
    pub mail: MailSettings,
}

/// The keys the service runs with, loaded once at start-up.
pub struct LoadedKeys {
    pub signer: Signer,
    pub ring: PublicKeyRing,
    pub code_key: CodeHashKey,
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
        let shared = SharedSettings::from_env(ServiceDefaults {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8081)),
            workers_var: "HTTP_WORKERS",
        })?;
        Ok(Self {
            shared,
            private_key: env::required("JWT_PRIVATE_KEY")?.into(),
            public_keys,
            code_hash_key: env::raw("CODE_HASH_KEY").map(PathBuf::from),
            tokens: TokenRules {
                issuer: env::or("JWT_ISSUER", "chatverify"),
                audience: env::or("JWT_AUDIENCE", "chatverify"),
                access_ttl_secs: bounded("ACCESS_TOKEN_TTL", 900, MAX_ACCESS_TTL)?,
                refresh_ttl_secs: bounded("REFRESH_TOKEN_TTL", 30 * DAY, MAX_REFRESH_TTL)?,
                login_max_lifetime_secs: bounded("LOGIN_MAX_LIFETIME", 90 * DAY, MAX_REFRESH_TTL)?,
            },
            codes: CodeRules {
                ttl_secs: bounded("CODE_TTL", 300, MAX_CODE_TTL)?,
                resend_cooldown_secs: cooldown()?,
                max_attempts: small("MAX_CODE_ATTEMPTS", 5)?,
                send_limit_per_address: small("SEND_LIMIT_PER_ADDRESS", 10)?,
                send_limit_per_ip: small("SEND_LIMIT_PER_IP", 50)?,
                confirm_limit_per_ip: small("CONFIRM_LIMIT_PER_IP", 30)?,
            },
            mail: MailSettings {
                transport: TransportKind::parse(&env::or("MAIL_TRANSPORT", "log"))
                    .map_err(|reason| env::invalid("MAIL_TRANSPORT", "<hidden>", reason))?,
                from,
                queue_capacity: platform::settings::count(
                    "MAIL_QUEUE_CAPACITY",
                    10_000,
                    10_000_000,
                )?,
                concurrency: platform::settings::count("MAIL_CONCURRENCY", 16, 4096)?,
                max_attempts: small("MAIL_MAX_ATTEMPTS", 5)?,
                drain_timeout: Duration::from_secs(bounded("MAIL_DRAIN_TIMEOUT", 20, 3600)?),
            },
        })
    }

    /// Loads the signing key, the public key ring and the code hash key.
    pub fn load_keys(&self) -> anyhow::Result<LoadedKeys> {
        let ring = PublicKeyRing::load(&self.public_keys)?;
        let signer = Signer::load(&self.private_key, &ring)?;
        let code_key = match &self.code_hash_key {
            Some(path) => read_code_hash_key(path)?,
            None => CodeHashKey::new(signer.derive_secret("chatverify code hash key v1").to_vec())
                .map_err(|e| anyhow::anyhow!(e))?,
        };
        Ok(LoadedKeys {
            signer,
            ring,
            code_key,
        })
    }
}

/// The file's bytes are the key. A text key (hex, base64, a passphrase: the file
/// is UTF-8) loses its trailing whitespace, the newline an editor or `echo` adds,
/// which would otherwise be part of the key and make a key written by hand on one
/// replica differ from the same key written by a tool on another. A binary key
/// (`head -c 32 /dev/urandom`, practically never valid UTF-8) is taken as it is:
/// trimming it would shorten one key in 40, whose last byte happens to be a
/// whitespace character, and change the key of a running deployment.
pub fn read_code_hash_key(path: &std::path::Path) -> anyhow::Result<CodeHashKey> {
    let mut bytes = std::fs::read(path)
        .with_context(|| format!("CODE_HASH_KEY: cannot read {}", path.display()))?;
    if std::str::from_utf8(&bytes).is_ok() {
        while bytes.last().is_some_and(u8::is_ascii_whitespace) {
            bytes.pop();
        }
    }
    let len = bytes.len();
    CodeHashKey::new(bytes).map_err(|_| {
        anyhow::anyhow!(
            "CODE_HASH_KEY: {} holds {len} bytes without its trailing whitespace; \
             at least 32 secret bytes are needed (e.g. `openssl rand -hex 32 > file`)",
            path.display()
        )
    })
}

/// A positive number of seconds, at most `max`.
fn bounded(name: &'static str, default: u64, max: u64) -> Result<u64, EnvError> {
    let v = env::positive_or(name, default)?;
    if v > max {
        return Err(env::invalid(
            name,
            &v.to_string(),
            format!("must be at most {max} seconds"),
        ));
    }
    Ok(v)
}

/// `RESEND_COOLDOWN` may be 0 (no cooldown), and at most a day.
fn cooldown() -> Result<u64, EnvError> {
    let v: u64 = env::parsed_or("RESEND_COOLDOWN", 60)?;
    if v > DAY {
        return Err(env::invalid(
            "RESEND_COOLDOWN",
            &v.to_string(),
            format!("must be at most {DAY} seconds"),
        ));
    }
    Ok(v)
}

/// A positive count that fits in u32.
fn small(name: &'static str, default: u32) -> Result<u32, EnvError> {
    let v = env::positive_or(name, u64::from(default))?;
    u32::try_from(v).map_err(|_| env::invalid(name, &v.to_string(), "too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file(bytes: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("code-hash-key-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    #[test]
    fn a_text_code_hash_key_loses_its_trailing_whitespace() {
        let mut with_newline = b"a".repeat(64);
        with_newline.extend_from_slice(b" \r\n");
        let trimmed = read_code_hash_key(&key_file(&with_newline));
        let exact = read_code_hash_key(&key_file(&b"a".repeat(64)));
        assert!(matches!((&trimmed, &exact), (Ok(a), Ok(b)) if a.bytes() == b.bytes()));
    }

    #[test]
    fn a_binary_code_hash_key_is_taken_as_it_is() {
        // Not UTF-8, and ending in bytes that are ASCII whitespace.
        let mut binary = vec![0xFFu8; 30];
        binary.extend_from_slice(b"\n ");
        let key = read_code_hash_key(&key_file(&binary));
        assert!(matches!(key, Ok(k) if k.bytes() == binary.as_slice()));
    }

    #[test]
    fn a_short_code_hash_key_is_refused_clearly() {
        let mut short = vec![b'x'; 31];
        short.extend_from_slice(b"\n\n");
        let err = read_code_hash_key(&key_file(&short))
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("CODE_HASH_KEY")
                && e.contains("31 bytes")
                && e.contains("32")),
            "{err:?}"
        );
    }
}
