//! Plain SMTP on sockets with `TCP_NODELAY`, pipelined (see [`super::smtp_client`]).
//!
//! lettre 0.11.23's pooled transport leaves Nagle's algorithm on. It writes a
//! message's body and then the terminating `\r\n.\r\n` as a second small write,
//! which Nagle holds until the server acknowledges the body; servers delay that
//! ACK (40 ms on Linux), so every mail costs 40 ms per connection and the default
//! 16 connections deliver about 350 mails/s (measured with `make bench`). Upstream
//! fixed it (lettre PR #1159, not in a release yet). Plain relays
//! (`smtp://host:port`, the usual sidecar or internal relay) go through here, on
//! our own small pipelining client; TLS and authenticated URLs keep lettre's
//! transport.
//!
//! Connections are pooled like lettre's pool does, except that a connection used
//! moments ago is reused without the NOOP round trip lettre spends on every reuse;
//! if it did die meanwhile, the send fails as transient and is retried.

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use lettre::{Message, transport::smtp::extension::ClientId};
use tokio::net::TcpStream;

use super::{failure::SendFailure, smtp_client::SmtpConnection};

/// A pooled connection used more recently than this is trusted without a NOOP.
const FRESH: Duration = Duration::from_secs(2);

pub struct DirectSmtp {
    host: String,
    port: u16,
    hello: String,
    timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<(SmtpConnection, Instant)>>,
}

impl DirectSmtp {
    /// Whether `url` (already validated by lettre) is plain SMTP with neither TLS
    /// nor credentials.
    pub fn handles(url: &str) -> bool {
        url.strip_prefix("smtp://")
            .is_some_and(|rest| !rest.contains(['@', '?', '/']) && split_host_port(rest).is_some())
    }

    pub fn new(url: &str, timeout: Duration, max_idle: usize) -> anyhow::Result<Self> {
        let (host, port) = url
            .strip_prefix("smtp://")
            .and_then(split_host_port)
            .ok_or_else(|| anyhow::anyhow!("MAIL_TRANSPORT: not a plain smtp://host:port URL"))?;
        Ok(Self {
            host,
            port,
            hello: ClientId::default().to_string(),
            timeout,
            max_idle: max_idle.max(1),
            idle: Mutex::new(Vec::new()),
        })
    }

    pub async fn send(&self, message: &Message) -> Result<(), SendFailure> {
        let envelope = message.envelope();
        let from = envelope.from().map(ToString::to_string).unwrap_or_default();
        let to: Vec<String> = envelope.to().iter().map(ToString::to_string).collect();
        let bytes = message.formatted();
        let mut conn = self.checkout().await?;
        match tokio::time::timeout(self.timeout, conn.send(&from, &to, &bytes)).await {
            Ok(Ok(())) => {
                self.checkin(conn);
                Ok(())
            }
            // A failed or timed-out exchange leaves the connection in an unknown
            // state: it is dropped, not pooled.
            Ok(Err(failure)) => Err(failure),
            Err(_) => Err(timed_out(self.timeout)),
        }
    }

    async fn checkout(&self) -> Result<SmtpConnection, SendFailure> {
        loop {
            let pooled = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some((mut conn, last_used)) = pooled else {
                return self.connect().await;
            };
            if conn.broken() {
                continue;
            }
            if last_used.elapsed() < FRESH {
                return Ok(conn);
            }
            let alive = tokio::time::timeout(self.timeout, conn.ping()).await;
            if matches!(alive, Ok(true)) {
                return Ok(conn);
            }
        }
    }

    fn checkin(&self, conn: SmtpConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push((conn, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<SmtpConnection, SendFailure> {
        let connect = async {
            let stream = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| transient(format!("connecting to the SMTP server: {e}")))?;
            stream
                .set_nodelay(true)
                .map_err(|e| transient(format!("setting TCP_NODELAY: {e}")))?;
            SmtpConnection::open(stream, &self.hello).await
        };
        tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| timed_out(self.timeout))?
    }
}

fn transient(reason: String) -> SendFailure {
    SendFailure::transient(reason)
}

fn timed_out(timeout: Duration) -> SendFailure {
    transient(format!("no answer from the SMTP server within {timeout:?}"))
}

/// `host:port` or `[v6]:port`; the port defaults to 25 as in lettre.
fn split_host_port(authority: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        (host, rest.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 25,
    };
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relays_take_the_direct_path() {
        assert!(DirectSmtp::handles("smtp://127.0.0.1:2525"));
        assert!(DirectSmtp::handles("smtp://relay.internal"));
        assert!(DirectSmtp::handles("smtp://[::1]:25"));
        assert!(!DirectSmtp::handles("smtp://user:pass@relay:25"));
        assert!(!DirectSmtp::handles("smtp://relay:587?tls=required"));
        assert!(!DirectSmtp::handles("smtps://relay:465"));
        assert!(!DirectSmtp::handles("smtp://relay:notaport"));
    }

    #[test]
    fn host_and_port_are_split() {
        assert_eq!(split_host_port("h:2525"), Some(("h".into(), 2525)));
        assert_eq!(split_host_port("h"), Some(("h".into(), 25)));
        assert_eq!(split_host_port("[::1]:26"), Some(("::1".into(), 26)));
        assert_eq!(split_host_port(":25"), None);
    }
}
