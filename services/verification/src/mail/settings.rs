//! The mail settings: `MAIL_TRANSPORT`, `MAIL_FROM` and the queue's knobs.

use std::{fmt, path::PathBuf, time::Duration};

use lettre::{AsyncSmtpTransport, Tokio1Executor, message::Mailbox};

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: TransportKind,
    pub from: Mailbox,
    pub queue_capacity: usize,
    pub concurrency: usize,
    pub max_attempts: u32,
    pub drain_timeout: Duration,
}

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
