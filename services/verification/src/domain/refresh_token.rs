//! The refresh token: `<sid>.<generation>.<secret>`.
//!
//! The secret is 16 random bytes and a 16-byte tag, HMAC-SHA256 (under a key
//! derived from the code hash key) of the sid, the generation and those random
//! bytes. Redis keeps only the SHA-256 of the current secret, which is what
//! authenticates a current token. The tag is what lets the service tell a token
//! it issued for an older generation (reuse: end the login) from one somebody
//! made up from a known sid (refused, nothing ends). A token whose tag does not
//! check (say, issued before the code hash key changed) still works while it is
//! current; it just cannot prove reuse.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::codes::{CodeHashKey, hex};

/// The key of the tags. Never printed.
#[derive(Clone)]
pub struct TagKey([u8; 32]);

impl TagKey {
    /// A key of its own, derived so that a tag says nothing about code hashes.
    pub fn derive(code_key: &CodeHashKey) -> Self {
        Self(hmac(
            code_key.bytes(),
            &[b"chatverify refresh token tag v1"],
        ))
    }
}

impl std::fmt::Debug for TagKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TagKey(<redacted>)")
    }
}

pub struct RefreshToken {
    pub sid: Uuid,
    pub generation: u64,
    /// The tag checks: the service issued this token (for some generation).
    pub genuine: bool,
    secret: [u8; 32],
}

impl RefreshToken {
    pub fn issue(key: &TagKey, sid: Uuid, generation: u64) -> Self {
        let random: [u8; 16] = rand::rng().random();
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(&random);
        secret[16..].copy_from_slice(&tag(key, sid, generation, &random));
        Self {
            sid,
            generation,
            genuine: true,
            secret,
        }
    }

    /// `None` for anything not of the token's form.
    pub fn parse(key: &TagKey, raw: &str) -> Option<Self> {
        let mut parts = raw.trim().split('.');
        let sid = Uuid::parse_str(parts.next()?).ok()?;
        let generation: u64 = parts.next()?.parse().ok()?;
        let decoded = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        if parts.next().is_some() || generation == 0 {
            return None;
        }
        let secret: [u8; 32] = decoded.try_into().ok()?;
        let expected = tag(key, sid, generation, &secret[..16]);
        Some(Self {
            sid,
            generation,
            genuine: expected.ct_eq(&secret[16..]).into(),
            secret,
        })
    }

    /// What Redis keeps: the SHA-256 of the secret.
    pub fn digest(&self) -> String {
        hex(&Sha256::digest(self.secret))
    }

    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            self.sid.simple(),
            self.generation,
            URL_SAFE_NO_PAD.encode(self.secret)
        )
    }
}

/// A refresh token of the form issued before generations: `<sid>.<secret>`,
/// whose SHA-256 the old session holds.
pub struct LegacyRefreshToken {
    pub sid: Uuid,
    secret: String,
}

impl LegacyRefreshToken {
    pub fn parse(raw: &str) -> Option<Self> {
        let (sid, secret) = raw.trim().split_once('.')?;
        let sid = Uuid::parse_str(sid).ok()?;
        let decoded = URL_SAFE_NO_PAD.decode(secret).ok()?;
        (decoded.len() == 32 && !secret.contains('.')).then(|| Self {
            sid,
            secret: secret.to_owned(),
        })
    }

    /// The old form hashed the encoded secret.
    pub fn digest(&self) -> String {
        hex(&Sha256::digest(self.secret.as_bytes()))
    }
}

fn tag(key: &TagKey, sid: Uuid, generation: u64, random: &[u8]) -> [u8; 16] {
    let full = hmac(&key.0, &[sid.as_bytes(), &generation.to_be_bytes(), random]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> TagKey {
        TagKey::derive(&CodeHashKey::new(vec![byte; 32]).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn an_issued_token_parses_back() {
        let sid = Uuid::new_v4();
        let token = RefreshToken::issue(&key(1), sid, 7);
        let parsed = RefreshToken::parse(&key(1), &token.encode());
        assert!(
            parsed
                .is_some_and(|p| p.sid == sid && p.generation == 7 && p.digest() == token.digest())
        );
    }

    #[test]
    fn made_up_or_altered_tokens_are_not_genuine() {
        let sid = Uuid::new_v4();
        let token = RefreshToken::issue(&key(1), sid, 7).encode();
        let other_generation = token.replacen(".7.", ".6.", 1);
        let forged = format!("{}.3.{}", sid.simple(), URL_SAFE_NO_PAD.encode([0u8; 32]));
        for made_up in [other_generation.as_str(), forged.as_str()] {
            let parsed = RefreshToken::parse(&key(1), made_up);
            assert!(parsed.is_some_and(|p| !p.genuine), "{made_up}");
        }
        let other_key = RefreshToken::parse(&key(2), &token);
        assert!(other_key.is_some_and(|p| !p.genuine), "another key");
        for malformed in ["", "nonsense", "a.b.c", &format!("{token}.x")] {
            assert!(
                RefreshToken::parse(&key(1), malformed).is_none(),
                "{malformed}"
            );
        }
    }
}
