//! The built-in SMTP receiver: just enough RFC 5321 for the verification
//! service's mailer (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, and RFC 3030's
//! BDAT, offered as CHUNKING as Postfix does), as cheap per mail as possible. It counts every mail and hands the code in a mail to whoever
//! registered for that address with [`SmtpReceiver::expect`].

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::Context;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::oneshot,
};

#[derive(Default)]
struct Inner {
    mails: AtomicU64,
    waiting: Mutex<HashMap<String, oneshot::Sender<String>>>,
}

impl Inner {
    fn arrived(&self, to: &str, code: Option<String>) {
        self.mails.fetch_add(1, Ordering::Relaxed);
        let Some(code) = code else { return };
        let waiter = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(to);
        if let Some(waiter) = waiter {
            let _ = waiter.send(code);
        }
    }
}

/// A running receiver; stops when the last clone is dropped and the runtime ends.
#[derive(Clone)]
pub struct SmtpReceiver {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl SmtpReceiver {
    pub async fn start(listen: SocketAddr) -> anyhow::Result<Self> {
        let socket = match listen {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        // The previous run's sockets may linger in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket
            .bind(listen)
            .with_context(|| format!("SMTP receiver: cannot bind {listen}"))?;
        let listener: TcpListener = socket.listen(1024)?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::default());
        let accepting = Arc::clone(&inner);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(session(stream, Arc::clone(&accepting)));
            }
        });
        Ok(Self { inner, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Mails received so far.
    pub fn mails(&self) -> u64 {
        self.inner.mails.load(Ordering::Relaxed)
    }

    /// The code of the next mail to `address` (lower-case). Register before
    /// asking for the mail, so it cannot arrive unseen.
    pub fn expect(&self, address: &str) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(address.to_ascii_lowercase(), tx);
        rx
    }

    /// Forgets a registration that will not be used (a failed send).
    pub fn forget(&self, address: &str) {
        self.inner
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&address.to_ascii_lowercase());
    }
}

async fn session(stream: TcpStream, inner: Arc<Inner>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::with_capacity(16 * 1024, read);
    let mut line = Vec::with_capacity(256);
    let mut to = String::new();
    // Replies to pipelined commands go out together once the input is drained.
    let mut out: Vec<u8> = Vec::with_capacity(256);
    // A BDAT chunk, and the code found so far in the transaction's chunks.
    let mut chunk: Vec<u8> = Vec::new();
    let mut code: Option<String> = None;
    if write.write_all(b"220 loadtest ESMTP\r\n").await.is_err() {
        return;
    }
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let reply: &[u8] = match command(&line) {
            Command::Ehlo => {
                b"250-loadtest\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n"
            }
            Command::Ok => b"250 OK\r\n",
            Command::Mail => {
                to.clear();
                code = None;
                b"250 OK\r\n"
            }
            Command::Rcpt => {
                if to.is_empty() {
                    to = angle(&line).to_ascii_lowercase();
                }
                b"250 OK\r\n"
            }
            Command::Data => {
                out.extend_from_slice(b"354 go ahead\r\n");
                if write.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
                let Some(code) = read_data(&mut reader, &mut line).await else {
                    return;
                };
                inner.arrived(&to, code);
                to.clear();
                b"250 queued\r\n"
            }
            Command::Bdat { size, last } => {
                if size > MAX_CHUNK {
                    return;
                }
                chunk.resize(size, 0);
                if reader.read_exact(&mut chunk).await.is_err() {
                    return;
                }
                if code.is_none() {
                    code = code_in_lines(chunk.split_inclusive(|&b| b == b'\n'));
                }
                if last {
                    inner.arrived(&to, code.take());
                    to.clear();
                    b"250 queued\r\n"
                } else {
                    b"250 chunk received\r\n"
                }
            }
            Command::Quit => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            Command::Unknown => b"502 not implemented\r\n",
        };
        out.extend_from_slice(reply);
        if reader.buffer().is_empty() {
            if write.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}

/// A verification mail is a few KiB; a larger chunk ends the session.
const MAX_CHUNK: usize = 1 << 20;

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Ehlo,
    Ok,
    Mail,
    Rcpt,
    Data,
    Bdat { size: usize, last: bool },
    Quit,
    Unknown,
}

fn command(line: &[u8]) -> Command {
    let head: [u8; 4] = match line.get(..4) {
        Some(h) => [h[0], h[1], h[2], h[3]].map(|b| b.to_ascii_uppercase()),
        None => return Command::Unknown,
    };
    match &head {
        b"EHLO" => Command::Ehlo,
        b"HELO" | b"NOOP" | b"RSET" => Command::Ok,
        b"MAIL" => Command::Mail,
        b"RCPT" => Command::Rcpt,
        b"DATA" => Command::Data,
        b"BDAT" => bdat(line),
        b"QUIT" => Command::Quit,
        _ => Command::Unknown,
    }
}

/// `BDAT <size> [LAST]`; a malformed one is not understood.
fn bdat(line: &[u8]) -> Command {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace().skip(1);
    let Some(size) = words.next().and_then(|w| w.parse().ok()) else {
        return Command::Unknown;
    };
    let last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
    Command::Bdat { size, last }
}

/// Reads the message up to the lone dot; returns the code it carries, if any.
async fn read_data<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> Option<Option<String>> {
    let mut scan = CodeScan::default();
    loop {
        line.clear();
        if reader.read_until(b'\n', line).await.ok()? == 0 {
            return None;
        }
        if line == b".\r\n" || line == b".\n" {
            return Some(scan.code());
        }
        scan.line(line);
    }
}

/// The code in a whole message's lines.
fn code_in_lines<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Option<String> {
    let mut scan = CodeScan::default();
    for line in lines {
        scan.line(line);
    }
    scan.code()
}

/// Looks for the code line by line: the six-digit run of the Subject line, else
/// the first one in the body.
struct CodeScan {
    in_headers: bool,
    from_subject: Option<String>,
    from_body: Option<String>,
}

impl Default for CodeScan {
    fn default() -> Self {
        Self {
            in_headers: true,
            from_subject: None,
            from_body: None,
        }
    }
}

impl CodeScan {
    fn line(&mut self, line: &[u8]) {
        if self.in_headers {
            if line == b"\r\n" || line == b"\n" {
                self.in_headers = false;
            } else if self.from_subject.is_none()
                && line.len() > 8
                && line[..8].eq_ignore_ascii_case(b"subject:")
            {
                self.from_subject = six_digits(line);
            }
        } else if self.from_subject.is_none() && self.from_body.is_none() {
            self.from_body = six_digits(line);
        }
    }

    fn code(self) -> Option<String> {
        self.from_subject.or(self.from_body)
    }
}

/// The first run of exactly six ASCII digits.
fn six_digits(text: &[u8]) -> Option<String> {
    let mut start = None;
    for (i, b) in text.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s == 6 {
                    return Some(String::from_utf8_lossy(&text[s..i]).into_owned());
                }
                start = None;
            }
            _ => {}
        }
    }
    None
}

fn angle(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let start = text.find('<').map_or(0, |i| i + 1);
    let end = text[start..].find('>').map_or(text.len(), |i| start + i);
    text[start..end].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digit_runs_are_found_and_longer_runs_skipped() {
        assert_eq!(
            six_digits(b"Subject: 042917 is your code\r\n").as_deref(),
            Some("042917")
        );
        assert_eq!(
            six_digits(b"id 1234567 then 654321").as_deref(),
            Some("654321")
        );
        assert_eq!(six_digits(b"ends with 123456").as_deref(), Some("123456"));
        assert_eq!(six_digits(b"no 12345 code"), None);
    }

    #[test]
    fn a_chunked_message_gives_its_subjects_code() {
        let message = b"From: a@b\r\nSubject: 042917 is your code\r\n\r\nUse 111111\r\n";
        assert_eq!(
            code_in_lines(message.split_inclusive(|&b| b == b'\n')).as_deref(),
            Some("042917")
        );
    }

    #[test]
    fn commands_are_case_insensitive() {
        assert_eq!(command(b"ehlo host\r\n"), Command::Ehlo);
        assert_eq!(command(b"RCPT TO:<a@b>\r\n"), Command::Rcpt);
        assert_eq!(command(b"xx\r\n"), Command::Unknown);
        assert_eq!(
            command(b"bdat 120 last\r\n"),
            Command::Bdat {
                size: 120,
                last: true
            }
        );
        assert_eq!(
            command(b"BDAT 7\r\n"),
            Command::Bdat {
                size: 7,
                last: false
            }
        );
        assert_eq!(command(b"BDAT x LAST\r\n"), Command::Unknown);
        assert_eq!(angle(b"RCPT TO:<Ann@Example.com>\r\n"), "Ann@Example.com");
    }
}
