//! Email addresses: what the service accepts, and the one spelling it stores.

use std::str::FromStr;

/// A trimmed, lower-cased, ASCII-only address that a real parser accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid email address")]
pub struct InvalidEmail;

/// RFC 5321's limit on a forward path.
const MAX_LEN: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim_matches(|c: char| c == ' ' || c == '\t');
        // ASCII only: this also refuses every invisible, bidirectional and
        // homoglyph character. Control characters (CR/LF header injection) are ASCII
        // too, so they are refused separately.
        if trimmed.is_empty()
            || trimmed.len() > MAX_LEN
            || !trimmed.is_ascii()
            || trimmed.bytes().any(|b| b.is_ascii_control() || b == b' ')
        {
            return Err(InvalidEmail);
        }
        let lower = trimmed.to_ascii_lowercase();
        let parsed = email_address::EmailAddress::from_str(&lower).map_err(|_| InvalidEmail)?;
        // The parser also accepts display-name forms ("Ann <ann@x>"): insist the
        // input was the bare address.
        if parsed.as_str() != lower {
            return Err(InvalidEmail);
        }
        let (local, domain) = lower.rsplit_once('@').ok_or(InvalidEmail)?;
        if !local_part_ok(local) || !domain_ok(domain) {
            return Err(InvalidEmail);
        }
        // The mailer must be able to address it too.
        lower.parse::<lettre::Address>().map_err(|_| InvalidEmail)?;
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A starting display name: the local part, cut to the 32-character limit.
    pub fn default_display_name(&self) -> String {
        let local = self.0.split('@').next().unwrap_or("user");
        local
            .chars()
            .take(*super::users::DISPLAY_NAME_CHARS.end())
            .collect()
    }
}

/// Dot-atoms only: quoted local parts are legal but only ever seen in attacks.
/// Braces are legal here; the Redis keys an address names stay together on a
/// cluster whatever it holds (see `store::Keys`).
fn local_part_ok(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
}

/// Host names only: no IP literals, each label 1–63 letters, digits or hyphens.
fn domain_ok(domain: &str) -> bool {
    !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_surrounding_space() {
        assert_eq!(
            Email::parse("  Ann.Lee@Example.COM ").map(|e| e.0),
            Ok("ann.lee@example.com".to_owned())
        );
    }

    #[test]
    fn refuses_header_injection_and_odd_forms() {
        for bad in [
            "ann@example.com\r\nBcc: eve@evil.test",
            "ann@example.com\n",
            "ann@exa\rmple.com",
            "Ann <ann@example.com>",
            "\"ann\"@example.com",
            "ann@[127.0.0.1]",
            "ann@example..com",
            "ann@-example.com",
            ".ann@example.com",
            "ann@@example.com",
            "ann",
            "",
            "ann@exämple.com",
            "ann\u{202e}@example.com",
            "ann\u{200b}@example.com",
            "ann example@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
        assert_eq!(Email::parse(&"a".repeat(10_000)), Err(InvalidEmail));
    }

    #[test]
    fn braces_are_legal_in_a_local_part() {
        for ok in ["{ann}@example.com", "a}nn@example.com", "a{b@example.com"] {
            assert!(Email::parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn display_name_comes_from_local_part() {
        let email = Email::parse("averyveryverylonglocalpartthatgoesonandon@example.com");
        assert_eq!(
            email.map(|e| e.default_display_name().chars().count()),
            Ok(32)
        );
    }
}
