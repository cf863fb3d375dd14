//! Throwaway Ed25519 key files, laid out as an operator would: `<kid>.pem` public
//! keys (the stem is the key id) and a PKCS#8 private key.

use std::path::{Path, PathBuf};

use ed25519_dalek::{
    SigningKey,
    pkcs8::{EncodePrivateKey, EncodePublicKey, spki::der::pem::LineEnding},
};

#[derive(Debug, Clone)]
pub struct KeyPair {
    pub kid: String,
    pub private_path: PathBuf,
    pub public_path: PathBuf,
}

/// A fresh temporary directory for one test's files.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chatverify-{label}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Writes `<dir>/<kid>.pem` (public) and `<dir>/private/<kid>.pem` (private).
pub fn generate(dir: &Path, kid: &str) -> KeyPair {
    let seed: [u8; 32] = rand::random();
    let signing = SigningKey::from_bytes(&seed);
    let private_pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap_or_else(|e| panic!("encode private key: {e}"));
    let public_pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap_or_else(|e| panic!("encode public key: {e}"));
    let private_dir = dir.join("private");
    std::fs::create_dir_all(&private_dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let private_path = private_dir.join(format!("{kid}.pem"));
    let public_path = dir.join(format!("{kid}.pem"));
    std::fs::write(&private_path, private_pem.as_bytes()).unwrap_or_else(|e| panic!("write: {e}"));
    std::fs::write(&public_path, public_pem).unwrap_or_else(|e| panic!("write: {e}"));
    KeyPair {
        kid: kid.to_owned(),
        private_path,
        public_path,
    }
}
