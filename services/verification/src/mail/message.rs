//! The verification mail: plain text and HTML, stating the code and its lifetime.

use lettre::{
    Message,
    message::{Mailbox, MultiPart, SinglePart, header::ContentType},
};

/// The mail of a code (`digits`) to an address the domain already checked.
pub fn verification(
    from: &Mailbox,
    to: &str,
    digits: &str,
    ttl_secs: u64,
) -> Result<Message, lettre::error::Error> {
    let lifetime = lifetime(ttl_secs);
    let text = format!(
        "Your verification code is {digits}\r\n\r\n\
         It expires in {lifetime} and works once.\r\n\r\n\
         If you did not ask for it, ignore this mail: nobody can sign in without the code.\r\n"
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p>Your verification code is</p>\
         <p style=\"font-size:28px;letter-spacing:6px;font-weight:bold\">{digits}</p>\
         <p>It expires in {lifetime} and works once.</p>\
         <p style=\"color:#666\">If you did not ask for it, ignore this mail: nobody can sign in without the code.</p>\
         </body></html>"
    );
    let to: Mailbox = to.parse().map_err(|_| lettre::error::Error::MissingTo)?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(format!("{digits} is your verification code"))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
}

/// "5 minutes", "1 minute", "90 seconds".
fn lifetime(secs: u64) -> String {
    match secs {
        1 => "1 second".into(),
        60 => "1 minute".into(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `MAIL_QUEUE_CAPACITY` counts mails; what bounds its bytes is that a
    /// mail is small whatever the input: the address is the only part a
    /// client chooses, and it is at most 254 bytes.
    #[test]
    fn a_mail_to_the_longest_address_stays_under_4_kib() {
        // 64 + 1 + 189 = 254 bytes: three 60-byte labels and a 6-byte one.
        let label = "b".repeat(60);
        let to = format!("{}@{label}.{label}.{label}.ex.com", "a".repeat(64));
        assert_eq!(to.len(), 254);
        let from: Mailbox = "no-reply@localhost"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let mail = verification(&from, &to, "123456", 300).unwrap_or_else(|e| panic!("{to}: {e}"));
        let size = mail.formatted().len();
        assert!(size < 4096, "{size} bytes");
    }

    #[test]
    fn lifetime_reads_naturally() {
        assert_eq!(lifetime(300), "5 minutes");
        assert_eq!(lifetime(60), "1 minute");
        assert_eq!(lifetime(90), "90 seconds");
    }
}
