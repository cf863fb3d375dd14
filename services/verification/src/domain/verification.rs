//! The rules of a code: who may be sent one and when, and what a guess does.

use std::{net::IpAddr, sync::Arc};

use lettre::message::Mailbox;
use serde::Serialize;

use super::{
    codes::{self, Code, CodeHashKey},
    email::Email,
    retry_secs,
    sessions::NewLogin,
};
use crate::{
    error::ApiError,
    mail::{MailQueue, message},
    metrics::Metrics,
    store::{
        Keys,
        client_limits::Place,
        code_limits::{self, Attempt, ClientLimit},
        codes::{Guess, SendLimits, SendOutcome},
    },
};

#[derive(Debug, Clone)]
pub struct CodeRules {
    pub ttl_secs: u64,
    pub resend_cooldown_secs: u64,
    pub max_attempts: u32,
    pub send_limit_per_address: u32,
    pub send_limit_per_ip: u32,
    /// Failed confirms per hour from one client (IPv4 address or IPv6 /64).
    pub confirm_limit_per_ip: u32,
}

/// A proven address, and what its login still needs in Redis.
#[derive(Debug)]
pub struct Proven {
    pub email: Email,
    /// The per-client place the guess took (on a Redis Cluster): the caller
    /// gives it back (a success is not a failed confirm) in its next write.
    pub place: Option<Place>,
    /// The guess's script stored the login's session too (one Redis node).
    pub session_stored: bool,
}

/// A code is on its way.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SendAccepted {
    /// Seconds the code stays valid (`CODE_TTL`).
    pub expires_in: u64,
    /// Seconds before another code may be sent to this address (`RESEND_COOLDOWN`).
    pub resend_after: u64,
}

/// Everything sending and confirming codes needs.
#[derive(Clone)]
pub struct Codes {
    pub redis: platform::redis::Shared,
    pub keys: Keys,
    pub code_key: CodeHashKey,
    pub rules: CodeRules,
    pub mail: MailQueue,
    pub mail_from: Mailbox,
    pub metrics: Arc<Metrics>,
}

impl Codes {
    pub async fn send(
        &self,
        raw_email: &str,
        client: Option<IpAddr>,
    ) -> Result<SendAccepted, ApiError> {
        let email = Email::parse(raw_email).map_err(|_| ApiError::InvalidEmail)?;
        let rules = &self.rules;
        // Reserve the queue place first: a full queue must not spend a rate limit or
        // replace the code the user may already have.
        let slot = self.mail.reserve().map_err(|_| ApiError::Unavailable)?;
        let mut redis = self.redis.clone();
        let per_ip = ClientLimit {
            key: self.keys.sends_from_ip(&client_key(client)),
            limit: rules.send_limit_per_ip,
        };
        let code = Code::generate();
        let hash = codes::hash(&self.code_key, &email, code.digits());
        let limits = SendLimits {
            code_ttl_secs: rules.ttl_secs,
            cooldown_secs: rules.resend_cooldown_secs,
            per_address: rules.send_limit_per_address,
        };
        let one_node = !self.redis.is_cluster();
        let stored = code_limits::send(
            &mut redis,
            &self.keys,
            email.as_str(),
            &hash,
            &limits,
            &per_ip,
            one_node,
        )
        .await;
        let refused = match stored {
            Ok(SendOutcome::Stored) => None,
            Ok(SendOutcome::ClientCap { retry_after_ms }) => Some(limited(
                "too many codes requested from this network this hour",
                retry_after_ms,
            )),
            Ok(SendOutcome::Cooldown { retry_after_ms }) => Some(limited(
                "a code was sent to this address moments ago",
                retry_after_ms,
            )),
            Ok(SendOutcome::AddressCap { retry_after_ms }) => Some(limited(
                "too many codes sent to this address this hour",
                retry_after_ms,
            )),
            Err(e) => Some(ApiError::from(e)),
        };
        if let Some(error) = refused {
            return Err(error);
        }
        // Built only now: refused requests (the bulk of an abusive flood) never
        // pay for composing a MIME message. The address already parsed, so this
        // cannot fail on the input.
        let mail = message::verification(
            &self.mail_from,
            email.as_str(),
            code.digits(),
            rules.ttl_secs,
        )
        .map_err(|e| anyhow::anyhow!("building the verification mail: {e}"))?;
        slot.send(mail, std::time::Duration::from_secs(rules.ttl_secs));
        self.metrics.codes_sent.inc();
        tracing::info!(email_domain = domain(&email), "verification code queued");
        Ok(SendAccepted {
            expires_in: rules.ttl_secs,
            resend_after: rules.resend_cooldown_secs,
        })
    }

    /// Checks a guess; on success the code is consumed, the address proven and,
    /// where the deployment allows it in the same step, `login`'s session stored.
    ///
    /// A client that has failed `confirm_limit_per_ip` times this hour is refused
    /// before its guess is looked at, so the refusal costs the code nothing.
    pub async fn confirm(
        &self,
        raw_email: &str,
        candidate: &str,
        client: Option<IpAddr>,
        login: &NewLogin,
    ) -> Result<Proven, ApiError> {
        let email = Email::parse(raw_email).map_err(|_| ApiError::InvalidEmail)?;
        let mut redis = self.redis.clone();
        let per_ip = ClientLimit {
            key: self.keys.failed_confirms_from_ip(&client_key(client)),
            limit: self.rules.confirm_limit_per_ip,
        };
        let candidate = candidate.trim();
        // A malformed guess still costs an attempt: it is a guess.
        let guess = if codes::well_formed(candidate) {
            codes::hash(&self.code_key, &email, candidate)
        } else {
            "-".to_owned()
        };
        let attempt = Attempt {
            email: email.as_str(),
            guess_hash: &guess,
            max_attempts: self.rules.max_attempts,
            client: &per_ip,
            session: &login.session(email.as_str()),
        };
        let checked =
            code_limits::guess(&mut redis, &self.keys, &attempt, !self.redis.is_cluster()).await;
        let (checked, place, session_stored) = match checked {
            Ok(decided) => (Ok(decided.guess), decided.place, decided.session_stored),
            Err(e) => (Err(e), None, false),
        };
        let (label, outcome) = match checked {
            Ok(Guess::Consumed) => ("confirmed", Ok(email)),
            Ok(Guess::ClientLimited { retry_after_ms }) => (
                "client_limited",
                Err(limited(
                    "too many wrong codes from this network this hour",
                    retry_after_ms,
                )),
            ),
            Ok(Guess::NoCode | Guess::Wrong) => ("invalid", Err(ApiError::InvalidCode)),
            Ok(Guess::Burned { resend_after_ms }) => (
                "burned",
                Err(ApiError::TooManyAttempts {
                    retry_after: retry_secs(resend_after_ms),
                }),
            ),
            Err(e) => ("error", Err(ApiError::from(e))),
        };
        self.metrics.confirms.with_label_values(&[label]).inc();
        outcome.map(|email| Proven {
            email,
            place,
            session_stored,
        })
    }

    /// Gives back the place of a proven guess whose login could not start.
    pub async fn release(&self, proven: &Proven) {
        if let Some(place) = &proven.place {
            code_limits::release(&mut self.redis.clone(), place).await;
        }
    }
}

/// What per-IP limits count a client under (see `platform::client_ip::limit_key`).
fn client_key(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "unknown".to_owned(), platform::client_ip::limit_key)
}

fn limited(reason: &'static str, retry_after_ms: i64) -> ApiError {
    ApiError::RateLimited {
        reason,
        retry_after: retry_secs(retry_after_ms),
    }
}

/// Logs name the domain only: addresses are personal data.
fn domain(email: &Email) -> &str {
    email.as_str().rsplit('@').next().unwrap_or("")
}
