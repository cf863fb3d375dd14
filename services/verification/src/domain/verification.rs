//! The rules of a code: who may be sent one and when, and what a guess does.

use std::{net::IpAddr, sync::Arc};

use lettre::message::Mailbox;
use serde::Serialize;

use super::{
    codes::{self, Code, CodeHashKey},
    email::Email,
    retry_secs,
};
use crate::{
    error::ApiError,
    mail::{MailQueue, message},
    metrics::Metrics,
    store::{
        Keys,
        client_limits::{self, Place, Reservation},
        codes::{self as code_store, Guess, SendLimits, SendOutcome},
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

/// A proven address, and the per-client place its guess took: the caller gives
/// it back (a success is not a failed confirm), in its next write to Redis.
#[derive(Debug)]
pub struct Proven {
    pub email: Email,
    pub place: Place,
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
        let place = Place {
            key: self.keys.sends_from_ip(&client_key(client)),
        };
        if let Reservation::Full { retry_after_ms } =
            client_limits::reserve(&mut redis, &place.key, rules.send_limit_per_ip).await?
        {
            return Err(limited(
                "too many codes requested from this network this hour",
                retry_after_ms,
            ));
        }
        let code = Code::generate();
        let hash = codes::hash(&self.code_key, &email, code.digits());
        let limits = SendLimits {
            code_ttl_secs: rules.ttl_secs,
            cooldown_secs: rules.resend_cooldown_secs,
            per_address: rules.send_limit_per_address,
        };
        let stored =
            code_store::store_new_code(&mut redis, &self.keys, email.as_str(), &hash, &limits)
                .await;
        let refused = match stored {
            Ok(SendOutcome::Stored) => None,
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
            // Nothing was sent: the client's hourly allowance is not spent.
            release(&mut redis, &place).await;
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

    /// Checks a guess; on success the code is consumed and the address proven.
    ///
    /// A client that has failed `confirm_limit_per_ip` times this hour is refused
    /// before its guess is looked at, so the refusal costs the code nothing.
    pub async fn confirm(
        &self,
        raw_email: &str,
        candidate: &str,
        client: Option<IpAddr>,
    ) -> Result<Proven, ApiError> {
        let email = Email::parse(raw_email).map_err(|_| ApiError::InvalidEmail)?;
        let mut redis = self.redis.clone();
        let place = Place {
            key: self.keys.failed_confirms_from_ip(&client_key(client)),
        };
        // The place is taken before the guess is checked and given back on
        // success, so concurrent guesses cannot all slip under the limit.
        if let Reservation::Full { retry_after_ms } =
            client_limits::reserve(&mut redis, &place.key, self.rules.confirm_limit_per_ip).await?
        {
            self.metrics
                .confirms
                .with_label_values(&["client_limited"])
                .inc();
            return Err(limited(
                "too many wrong codes from this network this hour",
                retry_after_ms,
            ));
        }
        let candidate = candidate.trim();
        // A malformed guess still costs an attempt: it is a guess.
        let guess = if codes::well_formed(candidate) {
            codes::hash(&self.code_key, &email, candidate)
        } else {
            "-".to_owned()
        };
        let checked = code_store::check_guess(
            &mut redis,
            &self.keys,
            email.as_str(),
            &guess,
            self.rules.max_attempts,
        )
        .await;
        let (label, outcome) = match checked {
            Ok(Guess::Consumed) => ("confirmed", Ok(email)),
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
        match outcome {
            Ok(email) => Ok(Proven { email, place }),
            Err(e @ (ApiError::InvalidCode | ApiError::TooManyAttempts { .. })) => Err(e),
            Err(e) => {
                // Not a failed guess (Redis failed): it must not count.
                release(&mut redis, &place).await;
                Err(e)
            }
        }
    }

    /// Gives back the place of a proven guess whose login could not start.
    pub async fn release(&self, proven: &Proven) {
        release(&mut self.redis.clone(), &proven.place).await;
    }
}

/// Gives a per-client place back; if Redis fails here the place stays taken
/// until the window ends, which errs on the side of the limit.
async fn release(redis: &mut platform::redis::Shared, place: &Place) {
    if let Err(e) = client_limits::release(redis, place).await {
        tracing::warn!(error = %e, "could not give back a per-client place");
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
