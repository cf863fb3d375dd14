//! Key loading. A public key's id (`kid`) is its file's stem, so rotating keys is
//! adding a file and listing it, with no other naming scheme to keep in sync.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    Signer as _,
    pkcs8::{DecodePrivateKey, DecodePublicKey},
};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use sha2::Sha256;

use crate::claims::{Claims, TokenUser};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{var}: cannot read {path}: {source}")]
    Read {
        var: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{var}: {path} is not an Ed25519 {expected} PEM")]
    Format {
        var: &'static str,
        path: PathBuf,
        expected: &'static str,
    },
    #[error("JWT_PUBLIC_KEYS: {path} has no usable file stem for a key id")]
    NoKid { path: PathBuf },
    #[error("JWT_PUBLIC_KEYS: key id {kid:?} is listed twice")]
    DuplicateKid { kid: String },
    #[error("JWT_PUBLIC_KEYS lists no keys")]
    Empty,
    #[error("JWT_PRIVATE_KEY does not match any key listed in JWT_PUBLIC_KEYS")]
    NoMatchingPublicKey,
    #[error("signing failed: {0}")]
    Sign(#[from] serde_json::Error),
}

struct PublicKey {
    decoding: DecodingKey,
    raw: [u8; 32],
}

/// Every public key a token may be signed with, by `kid`.
pub struct PublicKeyRing {
    keys: HashMap<String, PublicKey>,
}

impl fmt::Debug for PublicKeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKeyRing")
            .field("kids", &self.kids())
            .finish()
    }
}

impl PublicKeyRing {
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Self, KeyError> {
        let mut keys = HashMap::new();
        for path in paths {
            let path = path.as_ref();
            let kid = path
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| KeyError::NoKid { path: path.into() })?
                .to_owned();
            let pem = read("JWT_PUBLIC_KEYS", path)?;
            let key = Self::parse(&pem).ok_or_else(|| KeyError::Format {
                var: "JWT_PUBLIC_KEYS",
                path: path.into(),
                expected: "public key (SPKI)",
            })?;
            if keys.insert(kid.clone(), key).is_some() {
                return Err(KeyError::DuplicateKid { kid });
            }
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys })
    }

    fn parse(pem: &str) -> Option<PublicKey> {
        let verifying = ed25519_dalek::VerifyingKey::from_public_key_pem(pem).ok()?;
        let decoding = DecodingKey::from_ed_pem(pem.as_bytes()).ok()?;
        Some(PublicKey {
            decoding,
            raw: verifying.to_bytes(),
        })
    }

    pub fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.get(kid).map(|k| &k.decoding)
    }

    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }

    fn kid_of(&self, raw: &[u8; 32]) -> Option<&str> {
        self.keys
            .iter()
            .find(|(_, k)| &k.raw == raw)
            .map(|(kid, _)| kid.as_str())
    }
}

/// The private key the verification service signs with, and its `kid`.
///
/// Tokens are put together here (JWS compact form: header, claims and signature,
/// each base64url) rather than by `jsonwebtoken::encode`, which rebuilds the
/// signing key from its PKCS#8 bytes on every call, deriving the public key: a
/// second Ed25519 base-point multiplication per token. Signing with the key built
/// once costs half (35 against 70 µs per token on the benchmark machine, about
/// 6 % of a login's CPU in the service), and the header, the same for every
/// token, is encoded once. Ed25519 is deterministic: the bytes are the ones
/// `jsonwebtoken::encode` makes (a unit test checks).
pub struct Signer {
    kid: String,
    signing: ed25519_dalek::SigningKey,
    /// The encoded header and its trailing dot.
    header: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Signer {
    /// Loads the PKCS#8 private key and finds its `kid` among the public keys.
    pub fn load(path: &Path, ring: &PublicKeyRing) -> Result<Self, KeyError> {
        let pem = read("JWT_PRIVATE_KEY", path)?;
        let format_err = || KeyError::Format {
            var: "JWT_PRIVATE_KEY",
            path: path.into(),
            expected: "private key (PKCS#8)",
        };
        let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|_| format_err())?;
        let kid = ring
            .kid_of(&signing.verifying_key().to_bytes())
            .ok_or(KeyError::NoMatchingPublicKey)?
            .to_owned();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        let header = format!("{}.", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?));
        Ok(Self {
            kid,
            signing,
            header,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let claims = serde_json::to_vec(claims)?;
        let mut token = String::with_capacity(self.header.len() + claims.len() * 4 / 3 + 90);
        token.push_str(&self.header);
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let signature = self.signing.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }

    /// Builds and signs an access token; returns the token and its claims.
    pub fn issue_access(
        &self,
        user: &TokenUser,
        sid: uuid::Uuid,
        issuer: &str,
        audience: &str,
        ttl_secs: u64,
    ) -> Result<(String, Claims), KeyError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.id,
            email: user.email.clone(),
            name: user.display_name.clone(),
            sid,
            jti: uuid::Uuid::new_v4(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            iss: issuer.to_owned(),
            aud: audience.to_owned(),
        };
        Ok((self.sign(&claims)?, claims))
    }

    /// A secret derived from the private key for another purpose (the code hash key
    /// when `CODE_HASH_KEY` is not set). HMAC with a label keeps the derived value
    /// independent of the signing key itself.
    pub fn derive_secret(&self, label: &str) -> [u8; 32] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.signing.as_bytes()) else {
            unreachable!("HMAC accepts keys of any length")
        };
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn read(var: &'static str, path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        var,
        path: path.into(),
        source,
    })
}
