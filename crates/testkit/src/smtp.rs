//! A small SMTP server on a random loopback port that keeps what it receives.
//! Enough of RFC 5321 for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), and
//! RFC 3030's BDAT (offered as CHUNKING, as Postfix does, unless turned off),
//! plus knobs to make it refuse or stall, so retry and back-pressure paths are
//! testable.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::Notify,
};

#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-unstuffed).
    pub data: String,
    /// It came in BDAT chunks rather than after DATA.
    pub chunked: bool,
}

impl Mail {
    /// The message with quoted-printable soft line breaks and `=3D` undone, so
    /// text can be searched whatever the transfer encoding wrapped.
    pub fn text(&self) -> String {
        self.data
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=")
    }

    /// The verification code: the six-digit run in the Subject line, else the
    /// first one in the decoded text.
    pub fn code(&self) -> Option<String> {
        let subject = self
            .data
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("subject:"))
            .and_then(six_digits);
        subject.or_else(|| six_digits(&self.text()))
    }
}

fn six_digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|i| {
        let run = &bytes[i..i + 6];
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + 6).copied();
        (run.iter().all(u8::is_ascii_digit)
            && !before.is_some_and(|b| b.is_ascii_digit())
            && !after.is_some_and(|b| b.is_ascii_digit()))
        .then(|| String::from_utf8_lossy(run).into_owned())
    })
}

#[derive(Default)]
struct State {
    /// Do not offer CHUNKING in the EHLO reply.
    no_chunking: AtomicBool,
    mails: Mutex<Vec<Mail>>,
    arrived: Notify,
    /// Answer this many DATA commands with a transient failure (451).
    fail_next: AtomicU32,
    /// Stall each command this many milliseconds.
    delay_ms: AtomicU64,
}

#[derive(Clone)]
pub struct SmtpSink {
    port: u16,
    state: Arc<State>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind smtp sink: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("smtp sink addr: {e}"))
            .port();
        let state = Arc::new(State::default());
        let accept_state = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, Arc::clone(&accept_state)));
            }
        });
        Self { port, state }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `MAIL_TRANSPORT` value for this sink.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.state
            .mails
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Offers CHUNKING (BDAT) to sessions that start from now on, or not.
    pub fn set_chunking(&self, offered: bool) {
        self.state.no_chunking.store(!offered, Ordering::SeqCst);
    }

    pub fn fail_next(&self, n: u32) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Waits until `count` mails have reached `address`, returning them all.
    pub async fn wait_for(&self, address: &str, count: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.arrived.notified();
            let mails = self.mails_to(address);
            if mails.len() >= count {
                return mails;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.mails_to(address);
            }
        }
    }

    /// The code of the newest mail to `address`, waiting up to five seconds for
    /// the `nth` (1-based) mail to arrive.
    pub async fn code_for(&self, address: &str, nth: usize) -> Option<String> {
        let mails = self.wait_for(address, nth, Duration::from_secs(5)).await;
        mails.get(nth.checked_sub(1)?).and_then(Mail::code)
    }
}

async fn session(stream: TcpStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut from = String::new();
    let mut to = Vec::new();
    // BDAT chunks received so far in this transaction.
    let mut chunks: Vec<u8> = Vec::new();
    if write.write_all(b"220 testkit ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let delay = state.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let upper = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            if state.no_chunking.load(Ordering::SeqCst) {
                b"250-testkit\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n"
            } else {
                b"250-testkit\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
            }
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            chunks.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = angle(&line);
            to.clear();
            chunks.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(angle(&line));
            b"250 OK\r\n"
        } else if let Some(chunk) = bdat(&upper) {
            if chunk.size > 16 << 20 {
                return;
            }
            let mut bytes = vec![0u8; chunk.size];
            if lines.read_exact(&mut bytes).await.is_err() {
                return;
            }
            chunks.extend_from_slice(&bytes);
            if chunk.last {
                let data = String::from_utf8_lossy(&std::mem::take(&mut chunks)).into_owned();
                deliver(&state, &from, &mut to, data, true)
            } else {
                b"250 chunk received\r\n"
            }
        } else if upper == "DATA" {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let Some(data) = read_data(&mut lines).await else {
                return;
            };
            deliver(&state, &from, &mut to, data, false)
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// Keeps a whole message, or refuses it while `fail_next` says so.
fn deliver(
    state: &State,
    from: &str,
    to: &mut Vec<String>,
    data: String,
    chunked: bool,
) -> &'static [u8] {
    let failing = state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return b"451 try again later\r\n";
    }
    if let Ok(mut mails) = state.mails.lock() {
        mails.push(Mail {
            from: from.to_owned(),
            to: std::mem::take(to),
            data,
            chunked,
        });
    }
    state.arrived.notify_waiters();
    b"250 queued\r\n"
}

struct Chunk {
    size: usize,
    last: bool,
}

/// `BDAT <size> [LAST]`, already upper-cased and trimmed.
fn bdat(command: &str) -> Option<Chunk> {
    let mut words = command.strip_prefix("BDAT ")?.split_ascii_whitespace();
    let size = words.next()?.parse().ok()?;
    let last = words.next() == Some("LAST");
    Some(Chunk { size, last })
}

async fn read_data<R: AsyncBufReadExt + Unpin>(lines: &mut R) -> Option<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == ".\r\n" || line == ".\n" {
            return Some(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}

fn angle(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].trim().to_owned()
}
