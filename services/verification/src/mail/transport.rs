//! `MAIL_TRANSPORT`: pooled SMTP (plain, STARTTLS or TLS), `.eml` files, or the log.

use std::time::Duration;

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    transport::smtp::PoolConfig,
};

use super::{direct::DirectSmtp, failure::SendFailure, settings::TransportKind};

/// How long one SMTP exchange may take before it counts as a transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

pub enum Transport {
    /// Plain `smtp://host:port` (no TLS, no credentials): see [`DirectSmtp`].
    Direct(DirectSmtp),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
    Log,
}

impl Transport {
    pub fn build(kind: &TransportKind, pool_size: u32) -> anyhow::Result<Self> {
        Ok(match kind {
            TransportKind::Smtp { url } if DirectSmtp::handles(url) => Self::Direct(
                DirectSmtp::new(url, SMTP_TIMEOUT, usize::try_from(pool_size).unwrap_or(16))?,
            ),
            TransportKind::Smtp { url } => {
                let transport: AsyncSmtpTransport<Tokio1Executor> =
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
                        .timeout(Some(SMTP_TIMEOUT))
                        .pool_config(PoolConfig::new().max_size(pool_size))
                        .build();
                Self::Smtp(transport)
            }
            TransportKind::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("MAIL_TRANSPORT: cannot create {}: {e}", dir.display())
                })?;
                Self::File(AsyncFileTransport::<Tokio1Executor>::new(dir))
            }
            TransportKind::Log => Self::Log,
        })
    }

    pub async fn send(&self, message: Message) -> Result<(), SendFailure> {
        match self {
            Self::Direct(direct) => direct.send(&message).await,
            Self::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| SendFailure {
                // Connection problems (no SMTP status) are worth retrying too.
                transient: e.is_transient() || e.status().is_none(),
                reason: e.to_string(),
            }),
            Self::File(file) => file.send(message).await.map(drop).map_err(|e| SendFailure {
                transient: true,
                reason: e.to_string(),
            }),
            Self::Log => {
                // Development only, and warned at start-up: standard output is
                // exactly what container runtimes and log shippers collect, so in
                // a deployment these codes end up wherever the logs go.
                let text = String::from_utf8_lossy(&message.formatted()).into_owned();
                println!("----- mail (MAIL_TRANSPORT=log) -----\n{text}\n----- end of mail -----");
                Ok(())
            }
        }
    }
}
