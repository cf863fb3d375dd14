//! The shared JWT crate: Ed25519 keys with `kid` rotation, access-token claims,
//! validation pinned to EdDSA, revocation in Redis, and an actix extractor.
//!
//! The two services never call each other; everything they agree on about tokens
//! (claim names, Redis keys, the revocation channel) is defined here once.

pub mod claims;
pub mod extract;
pub mod keys;
pub mod revocation;
pub mod verify;

pub use claims::{Claims, TokenUser};
pub use extract::{AuthError, Authenticated, Authenticator, bearer_token};
pub use keys::{KeyError, PublicKeyRing, Signer};
pub use revocation::{REVOCATION_CHANNEL, Revocation, RevocationKeys, RevocationReason};
pub use verify::{TokenError, Verifier};
