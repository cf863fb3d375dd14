//! The rules of a code: who may be sent one and when, and what a guess does.

use std::net::IpAddr;

use serde::Serialize;

use crate::{
    codes::{self, Code},
    email::Email,
    error::ApiError,
    mail::message,
    startup::AppState,
    store::{
        codes::{self as code_store, SendLimits, SendOutcome, WrongGuess},
        users::{self, User},
    },
};

#[derive(Debug, Serialize)]
pub struct SendAccepted {
    pub expires_in: u64,
    pub resend_after: u64,
}

pub async fn send_code(
    state: &AppState,
    raw_email: &str,
    client_ip: Option<IpAddr>,
) -> Result<SendAccepted, ApiError> {
    let email = Email::parse(raw_email).map_err(|_| ApiError::InvalidEmail)?;
    let rules = &state.config.codes;
    // Reserve the queue place first: a full queue must not spend a rate limit or
    // replace the code the user may already have.
    let slot = state.mail.reserve().map_err(|_| ApiError::Unavailable)?;
    let code = Code::generate();
    let hash = codes::hash(&state.code_key, &email, code.digits());
    let ip = client_ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let limits = SendLimits {
        code_ttl_secs: rules.ttl_secs,
        cooldown_secs: rules.resend_cooldown_secs,
        per_address: rules.send_limit_per_address,
        per_ip: rules.send_limit_per_ip,
    };
    let mut conn = state.redis.get().await?;
    let outcome =
        code_store::store_new_code(&mut conn, &state.keys, email.as_str(), &ip, &hash, &limits)
            .await?;
    let limited = |reason, ms: i64| ApiError::RateLimited {
        reason,
        retry_after: retry_secs(ms),
    };
    match outcome {
        SendOutcome::Stored => {
            // Built only now: refused requests (the bulk of an abusive flood) never
            // pay for composing a MIME message. The address already parsed, so this
            // cannot fail on the input.
            let mail =
                message::verification(&state.config.mail.from, &email, &code, rules.ttl_secs)
                    .map_err(|e| anyhow::anyhow!("building the verification mail: {e}"))?;
            slot.send(mail);
            state.metrics.codes_sent.inc();
            tracing::info!(email_domain = domain(&email), "verification code queued");
            Ok(SendAccepted {
                expires_in: rules.ttl_secs,
                resend_after: rules.resend_cooldown_secs,
            })
        }
        SendOutcome::Cooldown { retry_after_ms } => Err(limited(
            "a code was sent to this address moments ago",
            retry_after_ms,
        )),
        SendOutcome::AddressCap { retry_after_ms } => Err(limited(
            "too many codes sent to this address this hour",
            retry_after_ms,
        )),
        SendOutcome::IpCap { retry_after_ms } => Err(limited(
            "too many codes requested from this network this hour",
            retry_after_ms,
        )),
    }
}

/// Checks a guess; on success the code is consumed and the user exists.
pub async fn confirm_code(
    state: &AppState,
    raw_email: &str,
    candidate: &str,
) -> Result<User, ApiError> {
    let email = Email::parse(raw_email).map_err(|_| ApiError::InvalidEmail)?;
    let outcome = check(state, &email, candidate).await;
    let label = match &outcome {
        Ok(()) => "confirmed",
        Err(ApiError::InvalidCode) => "invalid",
        Err(ApiError::TooManyAttempts { .. }) => "burned",
        Err(_) => "error",
    };
    state.metrics.confirms.with_label_values(&[label]).inc();
    outcome?;
    let mut db = state.db.get().await?;
    let user =
        users::upsert_verified(&mut db, email.as_str(), &email.default_display_name()).await?;
    tracing::info!(user_id = %user.id, "email verified");
    Ok(user)
}

async fn check(state: &AppState, email: &Email, candidate: &str) -> Result<(), ApiError> {
    let mut conn = state.redis.get().await?;
    let Some(pending) = code_store::pending(&mut conn, &state.keys, email.as_str()).await? else {
        return Err(ApiError::InvalidCode);
    };
    if pending.burned {
        return Err(burned(&mut conn, state, email).await?);
    }
    // A malformed guess still costs an attempt: it is a guess.
    let guess = codes::hash(&state.code_key, email, candidate.trim());
    if codes::well_formed(candidate.trim()) && codes::secret_eq(&guess, &pending.hash) {
        // Of concurrent correct guesses, exactly one consumes the code.
        return if code_store::consume(&mut conn, &state.keys, email.as_str(), &pending.hash).await?
        {
            Ok(())
        } else {
            Err(ApiError::InvalidCode)
        };
    }
    let max = state.config.codes.max_attempts;
    match code_store::count_wrong_guess(&mut conn, &state.keys, email.as_str(), &pending.hash, max)
        .await?
    {
        WrongGuess::Burned => Err(burned(&mut conn, state, email).await?),
        WrongGuess::Counted | WrongGuess::Gone => Err(ApiError::InvalidCode),
    }
}

/// The burned-code answer, with how long until a new code may be sent.
async fn burned(
    conn: &mut deadpool_redis::Connection,
    state: &AppState,
    email: &Email,
) -> Result<ApiError, ApiError> {
    let ms = code_store::cooldown_remaining_ms(conn, &state.keys, email.as_str()).await?;
    Ok(ApiError::TooManyAttempts {
        retry_after: retry_secs(ms),
    })
}

/// Whole seconds for Retry-After: rounded up, and never 0.
fn retry_secs(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1)
}

/// Logs name the domain only: addresses are personal data.
fn domain(email: &Email) -> &str {
    email.as_str().rsplit('@').next().unwrap_or("")
}
