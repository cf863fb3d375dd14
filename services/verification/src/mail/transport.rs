//! `MAIL_TRANSPORT`: pooled SMTP (plain, STARTTLS or TLS), `.eml` files, or the log.

use std::{fmt, path::PathBuf, time::Duration};

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    transport::smtp::PoolConfig,
};

use super::direct::DirectSmtp;

/// The parsed setting. SMTP URLs can carry a password, so `Debug` hides them.
#[derive(Clone)]
pub enum TransportKind {
    Smtp { url: String },
    File(PathBuf),
    Log,
}

impl fmt::Debug for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Smtp { .. } => f.write_str("Smtp(<url hidden>)"),
            Self::File(dir) => write!(f, "File({})", dir.display()),
            Self::Log => f.write_str("Log"),
        }
    }
}

impl TransportKind {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw == "log" {
            return Ok(Self::Log);
        }
        if let Some(dir) = raw.strip_prefix("file:") {
            if dir.is_empty() {
                return Err("file: needs a directory, e.g. file:./mail".into());
            }
            return Ok(Self::File(PathBuf::from(dir)));
        }
        let url = if let Some(rest) = raw.strip_prefix("smtp+starttls://") {
            // lettre spells STARTTLS as a query parameter on smtp://.
            let sep = if rest.contains('?') { '&' } else { '?' };
            format!("smtp://{rest}{sep}tls=required")
        } else if raw.starts_with("smtp://") || raw.starts_with("smtps://") {
            raw.to_owned()
        } else {
            return Err(
                "expected log, file:<dir>, smtp://host:port, smtp+starttls://… or smtps://…".into(),
            );
        };
        // Fail at start-up, not at the first mail.
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| format!("not a usable SMTP URL: {e}"))?;
        Ok(Self::Smtp { url })
    }
}

/// How long one SMTP exchange may take before it counts as a transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A send failure, and whether trying again later may succeed.
#[derive(Debug)]
pub struct SendFailure {
    pub transient: bool,
    pub reason: String,
}

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
                // Development only (warned at start-up): the whole mail goes to
                // standard output, not through the tracing logs, so log shipping in
                // a misconfigured production never collects codes.
                let text = String::from_utf8_lossy(&message.formatted()).into_owned();
                println!("----- mail (MAIL_TRANSPORT=log) -----\n{text}\n----- end of mail -----");
                Ok(())
            }
        }
    }
}
