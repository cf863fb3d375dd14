//! Access tokens for chat sockets: minted with the development key (fast, many
//! users), or obtained through the real verification flow (send, code from the
//! built-in SMTP receiver, confirm).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use auth::{PublicKeyRing, Signer, TokenUser};
use serde::Deserialize;

use crate::{http::HttpPool, smtp::SmtpReceiver};

/// Signs access tokens as the verification service would.
pub struct Minter {
    signer: Signer,
    issuer: String,
    audience: String,
    ttl_secs: u64,
}

impl Minter {
    pub fn load(
        private_key: &Path,
        public_keys: &[PathBuf],
        issuer: &str,
        audience: &str,
        ttl_secs: u64,
    ) -> anyhow::Result<Self> {
        let ring = PublicKeyRing::load(public_keys)?;
        let signer = Signer::load(private_key, &ring)?;
        Ok(Self {
            signer,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
        })
    }

    /// A token for a new user `n` of run `run`.
    pub fn mint(&self, run: &str, n: usize) -> anyhow::Result<String> {
        let user = TokenUser {
            id: uuid::Uuid::new_v4(),
            email: format!("load-{run}-{n}@bench.test"),
            display_name: format!("load{n}"),
        };
        let (token, _) = self.signer.issue_access(
            &user,
            uuid::Uuid::new_v4(),
            &self.issuer,
            &self.audience,
            self.ttl_secs,
        )?;
        Ok(token)
    }
}

#[derive(Deserialize)]
struct Pair {
    access_token: String,
}

/// Times of one login through the verification service.
#[derive(Debug, Clone, Copy)]
pub struct LoginTimes {
    pub send: Duration,
    pub mail: Duration,
    pub confirm: Duration,
}

/// Logs `email` in through the real flow; returns the access token.
pub async fn login(
    http: &HttpPool,
    smtp: &SmtpReceiver,
    email: &str,
    mail_timeout: Duration,
) -> anyhow::Result<(String, LoginTimes)> {
    let code = smtp.expect(email);
    let started = tokio::time::Instant::now();
    let sent = http
        .post_json(
            "/v1/verification/send",
            serde_json::to_vec(&serde_json::json!({ "email": email }))?,
        )
        .await;
    match sent {
        Ok(reply) if reply.status == 202 => {}
        Ok(reply) => {
            smtp.forget(email);
            bail!(
                "send answered {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            )
        }
        Err(e) => {
            smtp.forget(email);
            return Err(e);
        }
    }
    let after_send = tokio::time::Instant::now();
    let code = tokio::time::timeout(mail_timeout, code)
        .await
        .with_context(|| format!("no mail for {email} within {mail_timeout:?}"))?
        .context("SMTP receiver stopped")?;
    let mailed = tokio::time::Instant::now();
    let reply = http
        .post_json(
            "/v1/verification/confirm",
            serde_json::to_vec(&serde_json::json!({ "email": email, "code": code }))?,
        )
        .await?;
    if reply.status != 200 {
        bail!(
            "confirm answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    let pair: Pair = serde_json::from_slice(&reply.body).context("token pair")?;
    let done = tokio::time::Instant::now();
    Ok((
        pair.access_token,
        LoginTimes {
            send: after_send - started,
            mail: mailed - after_send,
            confirm: done - mailed,
        },
    ))
}
