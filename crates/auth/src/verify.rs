//! Token validation. The algorithm is pinned to EdDSA before any key is chosen, so
//! `alg: none` or an HMAC token "signed" with public key bytes can never verify.

use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};

use crate::{claims::Claims, keys::PublicKeyRing};

/// The contract allows at most 5 s of clock skew.
pub const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not EdDSA")]
    WrongAlgorithm,
    #[error("token has no key id")]
    MissingKid,
    #[error("token is signed with an unknown key")]
    UnknownKid,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token has the wrong issuer")]
    WrongIssuer,
    #[error("token has the wrong audience")]
    WrongAudience,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token claims are invalid")]
    BadClaims,
}

#[derive(Debug)]
pub struct Verifier {
    ring: PublicKeyRing,
    validation: Validation,
}

impl Verifier {
    pub fn new(ring: PublicKeyRing, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Self { ring, validation }
    }

    pub fn ring(&self) -> &PublicKeyRing {
        &self.ring
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            // Algorithms jsonwebtoken does not know (e.g. "none") fail header parsing.
            ErrorKind::InvalidAlgorithmName | ErrorKind::InvalidAlgorithm => {
                TokenError::WrongAlgorithm
            }
            _ => TokenError::Malformed,
        })?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::MissingKid)?;
        let key = self.ring.get(&kid).ok_or(TokenError::UnknownKid)?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => TokenError::BadClaims,
                _ => TokenError::Malformed,
            })
    }
}
