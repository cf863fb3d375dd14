//! One plain SMTP connection, speaking just what a relay needs for our mail, with
//! ESMTP PIPELINING (RFC 2920) and CHUNKING (RFC 3030) when the server offers them.
//!
//! lettre's connection waits for the reply to MAIL, then RCPT, then DATA before
//! it sends the message, and writes the message and its final dot separately:
//! five writes and four round trips per mail. Pipelined, a mail is two writes
//! and two round trips (envelope with DATA, then message with its dot): DATA
//! must wait for its 354. On the verify-login benchmark that took three sends and
//! two wake-ups per login off the service, and the same again off the relay.
//! With CHUNKING the message goes as one `BDAT <size> LAST` chunk, which may be
//! pipelined with the envelope: one write and one round trip per mail (Postfix
//! offers it since 3.4, Exim since 4.88).

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

use super::failure::SendFailure;

pub struct SmtpConnection {
    stream: BufReader<TcpStream>,
    pipelining: bool,
    chunking: bool,
    broken: bool,
}

/// A reply: its code and its last line's text.
struct Reply {
    code: u16,
    text: String,
}

impl SmtpConnection {
    /// Reads the greeting and says EHLO; `stream` should have Nagle off.
    pub async fn open(stream: TcpStream, hello: &str) -> Result<Self, SendFailure> {
        let mut conn = Self {
            stream: BufReader::with_capacity(4096, stream),
            pipelining: false,
            chunking: false,
            broken: false,
        };
        conn.expect(220).await?;
        conn.write(format!("EHLO {hello}\r\n").as_bytes()).await?;
        let mut lines = Vec::new();
        let reply = conn.read_reply(Some(&mut lines)).await?;
        check(&reply, 250)?;
        let offers = |extension: &str| {
            lines.iter().any(|l| {
                l.get(4..)
                    .is_some_and(|ext| ext.trim().eq_ignore_ascii_case(extension))
            })
        };
        conn.pipelining = offers("PIPELINING");
        conn.chunking = offers("CHUNKING");
        Ok(conn)
    }

    /// True once an exchange failed part-way: the connection is not reusable.
    pub fn broken(&self) -> bool {
        self.broken
    }

    /// NOOP round trip: is the connection still good?
    pub async fn ping(&mut self) -> bool {
        self.write(b"NOOP\r\n").await.is_ok() && self.expect(250).await.is_ok()
    }

    /// One mail transaction. `message` is the formatted message (CRLF lines).
    pub async fn send(
        &mut self,
        from: &str,
        to: &[String],
        message: &[u8],
    ) -> Result<(), SendFailure> {
        let mut envelope = format!("MAIL FROM:<{from}>\r\n");
        for rcpt in to {
            envelope.push_str(&format!("RCPT TO:<{rcpt}>\r\n"));
        }
        let result = if self.pipelining && self.chunking {
            self.chunked(envelope, to.len(), message).await
        } else {
            envelope.push_str("DATA\r\n");
            self.transaction(&envelope, to.len(), message).await
        };
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// The envelope and the whole message as one last chunk, in one write; then
    /// the replies to MAIL, each RCPT and the chunk. The message goes as it is:
    /// BDAT counts octets, so nothing is dot-stuffed.
    async fn chunked(
        &mut self,
        envelope: String,
        rcpts: usize,
        message: &[u8],
    ) -> Result<(), SendFailure> {
        let mut out = envelope.into_bytes();
        out.extend_from_slice(format!("BDAT {} LAST\r\n", message.len()).as_bytes());
        out.extend_from_slice(message);
        self.write(&out).await?;
        for _ in 0..=rcpts {
            self.expect(250).await?;
        }
        self.expect(250).await
    }

    async fn transaction(
        &mut self,
        envelope: &str,
        rcpts: usize,
        message: &[u8],
    ) -> Result<(), SendFailure> {
        if self.pipelining {
            self.write(envelope.as_bytes()).await?;
            self.expect(250).await?;
            for _ in 0..rcpts {
                self.expect(250).await?;
            }
        } else {
            for command in envelope
                .split_inclusive("\r\n")
                .filter(|c| !c.starts_with("DATA"))
            {
                self.write(command.as_bytes()).await?;
                self.expect(250).await?;
            }
            self.write(b"DATA\r\n").await?;
        }
        self.expect(354).await?;
        self.write(&dot_stuffed(message)).await?;
        self.expect(250).await?;
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), SendFailure> {
        let stream = self.stream.get_mut();
        stream
            .write_all(bytes)
            .await
            .map_err(|e| SendFailure::transient(format!("writing to the SMTP server: {e}")))
    }

    async fn expect(&mut self, code: u16) -> Result<(), SendFailure> {
        let reply = self.read_reply(None).await?;
        check(&reply, code)
    }

    async fn read_reply(
        &mut self,
        mut lines: Option<&mut Vec<String>>,
    ) -> Result<Reply, SendFailure> {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.stream.read_line(&mut line).await.map_err(|e| {
                SendFailure::transient(format!("reading from the SMTP server: {e}"))
            })?;
            if read == 0 || line.len() < 4 {
                return Err(SendFailure::transient(format!(
                    "the SMTP server closed the connection or sent {line:?}"
                )));
            }
            let text = line.trim_end().to_owned();
            let code: u16 = text[..3]
                .parse()
                .map_err(|_| SendFailure::transient(format!("not an SMTP reply: {text:?}")))?;
            if let Some(lines) = lines.as_deref_mut() {
                lines.push(text.clone());
            }
            if text.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, text });
            }
        }
    }
}

/// 4xx is worth retrying, 5xx is not; anything unexpected is treated as 4xx.
fn check(reply: &Reply, expected: u16) -> Result<(), SendFailure> {
    if reply.code == expected {
        return Ok(());
    }
    Err(SendFailure {
        transient: !(500..600).contains(&reply.code),
        reason: format!("the SMTP server answered {:?}", reply.text),
    })
}

/// The message as DATA carries it: a line starting with `.` gets another, the
/// last line is ended, and a lone `.` line ends the data.
fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut at_line_start = true;
    for &byte in message {
        if at_line_start && byte == b'.' {
            out.push(b'.');
        }
        out.push(byte);
        at_line_start = byte == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::dot_stuffed;

    #[test]
    fn leading_dots_are_doubled_and_the_data_ends_with_a_lone_dot() {
        assert_eq!(
            dot_stuffed(b"a\r\n.b\r\n..c\r\n"),
            b"a\r\n..b\r\n...c\r\n.\r\n"
        );
        assert_eq!(dot_stuffed(b".x"), b"..x\r\n.\r\n");
    }
}
