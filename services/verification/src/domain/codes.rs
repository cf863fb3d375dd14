//! One-time codes: generation from the OS CSPRNG and the keyed hash kept at rest.

use hmac::{Hmac, Mac};
use rand::RngExt;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::email::Email;

/// The code hash key: at least 32 secret bytes. Never printed.
#[derive(Clone)]
pub struct CodeHashKey(std::sync::Arc<[u8]>);

impl CodeHashKey {
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < 32 {
            return Err(format!("must be at least 32 bytes, found {}", bytes.len()));
        }
        Ok(Self(bytes.into()))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for CodeHashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHashKey(<redacted>)")
    }
}

/// Digits in a code.
pub const CODE_DIGITS: usize = 6;
const CODE_SPACE: u32 = 10u32.pow(CODE_DIGITS as u32);

/// A code as mailed. Its `Debug` never shows the digits.
pub struct Code(String);

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(******)")
    }
}

impl Code {
    /// Six uniform digits from the thread's CSPRNG (rand's ChaCha12, seeded and
    /// periodically reseeded from the operating system), which costs no system
    /// call; asking the OS for every code and token was five `getrandom` calls
    /// per login, 3 % of the service's CPU (perf, verify-login).
    pub fn generate() -> Self {
        Self(format!(
            "{:0width$}",
            rand::rng().random_range(0..CODE_SPACE),
            width = CODE_DIGITS
        ))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }
}

/// Whether a submitted value could be a code at all (six ASCII digits).
pub fn well_formed(candidate: &str) -> bool {
    candidate.len() == CODE_DIGITS && candidate.bytes().all(|b| b.is_ascii_digit())
}

/// HMAC-SHA256 over the address and the code, hex-encoded. Binding the address
/// means a hash copied between keys is useless; the server key means a Redis dump
/// cannot be brute-forced over the million possible codes.
pub fn hash(key: &CodeHashKey, email: &Email, code: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(email.as_str().as_bytes());
    mac.update(&[0]);
    mac.update(code.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Constant-time equality for secrets and their hashes.
pub fn secret_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CodeHashKey {
        CodeHashKey::new(vec![7; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let code = Code::generate();
            assert!(well_formed(code.digits()), "{}", code.digits());
        }
    }

    #[test]
    fn hash_depends_on_key_address_and_code() {
        let ann = Email::parse("ann@example.com").unwrap_or_else(|_| panic!());
        let bob = Email::parse("bob@example.com").unwrap_or_else(|_| panic!());
        let other = CodeHashKey::new(vec![8; 32]).unwrap_or_else(|e| panic!("{e}"));
        let h = hash(&key(), &ann, "123456");
        assert_eq!(h.len(), 64);
        assert!(!h.contains("123456"));
        assert_ne!(h, hash(&key(), &bob, "123456"));
        assert_ne!(h, hash(&key(), &ann, "123457"));
        assert_ne!(h, hash(&other, &ann, "123456"));
        assert!(secret_eq(&h, &hash(&key(), &ann, "123456")));
    }

    #[test]
    fn debug_hides_the_digits() {
        let code = Code::generate();
        assert!(!format!("{code:?}").contains(code.digits()));
    }
}
