//! Token validation against forged, foreign and stale tokens.

use auth::{Claims, PublicKeyRing, Signer, TokenError, TokenUser, Verifier};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use testkit::keys::{self, KeyPair};

struct Fixture {
    signer: Signer,
    verifier: Verifier,
    pair: KeyPair,
}

fn fixture() -> Fixture {
    let dir = keys::temp_dir("auth");
    let pair = keys::generate(&dir, "k1");
    let ring = PublicKeyRing::load(&[&pair.public_path]).unwrap_or_else(|e| panic!("{e}"));
    let signer = Signer::load(&pair.private_path, &ring).unwrap_or_else(|e| panic!("{e}"));
    let verifier = Verifier::new(ring, "chatverify", "chatverify");
    Fixture {
        signer,
        verifier,
        pair,
    }
}

fn user() -> TokenUser {
    TokenUser {
        id: uuid::Uuid::new_v4(),
        email: "ann@example.com".into(),
        display_name: "Ann".into(),
    }
}

fn issue(f: &Fixture) -> (String, Claims) {
    f.signer
        .issue_access(
            &user(),
            uuid::Uuid::new_v4(),
            "chatverify",
            "chatverify",
            900,
        )
        .unwrap_or_else(|e| panic!("{e}"))
}

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

#[test]
fn a_fresh_token_verifies_and_names_its_kid() {
    let f = fixture();
    let (token, claims) = issue(&f);
    assert_eq!(f.signer.kid(), "k1");
    assert_eq!(f.verifier.verify(&token), Ok(claims));
}

#[test]
fn tokens_are_the_bytes_jsonwebtoken_would_make() {
    // The signer assembles tokens itself (see `Signer`); Ed25519 is
    // deterministic, so the reference encoder must give the same string.
    let f = fixture();
    let (token, claims) = issue(&f);
    let pem = std::fs::read(&f.pair.private_path).unwrap_or_else(|e| panic!("{e}"));
    let key = jsonwebtoken::EncodingKey::from_ed_pem(&pem).unwrap_or_else(|e| panic!("{e}"));
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("k1".into());
    let reference = jsonwebtoken::encode(&header, &claims, &key).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(token, reference);
}

#[test]
fn alg_none_is_rejected() {
    let f = fixture();
    let (_, claims) = issue(&f);
    let header = serde_json::json!({"alg": "none", "typ": "JWT", "kid": "k1"});
    let payload = serde_json::to_value(&claims).unwrap_or_default();
    for token in [
        format!("{}.{}.", b64(&header), b64(&payload)),
        format!("{}.{}", b64(&header), b64(&payload)),
    ] {
        assert!(f.verifier.verify(&token).is_err(), "{token}");
    }
}

#[test]
fn hs256_signed_with_the_public_key_bytes_is_rejected() {
    let f = fixture();
    let (_, claims) = issue(&f);
    let public_pem = std::fs::read(&f.pair.public_path).unwrap_or_default();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    let forged = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public_pem),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.verifier.verify(&forged), Err(TokenError::WrongAlgorithm));
}

#[test]
fn an_unknown_or_missing_kid_is_rejected() {
    let f = fixture();
    let (_, claims) = issue(&f);
    let dir = keys::temp_dir("auth-other");
    let other = keys::generate(&dir, "k2");
    let ring = PublicKeyRing::load(&[&other.public_path]).unwrap_or_else(|e| panic!("{e}"));
    let stranger = Signer::load(&other.private_path, &ring).unwrap_or_else(|e| panic!("{e}"));
    let token = stranger.sign(&claims).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.verifier.verify(&token), Err(TokenError::UnknownKid));

    // A token claiming our kid but signed by another key fails the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1"});
    let relabelled = format!("{}.{}.{}", b64(&header), parts[1], parts[2]);
    assert_eq!(
        f.verifier.verify(&relabelled),
        Err(TokenError::BadSignature)
    );

    let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT"});
    let unlabelled = format!("{}.{}.{}", b64(&header), parts[1], parts[2]);
    assert_eq!(f.verifier.verify(&unlabelled), Err(TokenError::MissingKid));
}

#[test]
fn wrong_audience_and_issuer_are_rejected() {
    let f = fixture();
    let (token, _) = f
        .signer
        .issue_access(
            &user(),
            uuid::Uuid::new_v4(),
            "chatverify",
            "someone-else",
            900,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.verifier.verify(&token), Err(TokenError::WrongAudience));
    let (token, _) = f
        .signer
        .issue_access(&user(), uuid::Uuid::new_v4(), "evil", "chatverify", 900)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.verifier.verify(&token), Err(TokenError::WrongIssuer));
}

#[test]
fn expiry_and_not_before_are_checked_with_five_seconds_of_leeway() {
    let f = fixture();
    let (_, mut claims) = issue(&f);
    let now = chrono::Utc::now().timestamp();
    claims.exp = now - 3;
    let token = f.signer.sign(&claims).unwrap_or_else(|e| panic!("{e}"));
    assert!(f.verifier.verify(&token).is_ok(), "within the leeway");
    claims.exp = now - 30;
    let token = f.signer.sign(&claims).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.verifier.verify(&token), Err(TokenError::Expired));

    let (_, mut claims) = issue(&f);
    claims.nbf = now + 60;
    let token = f.signer.sign(&claims).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.verifier.verify(&token), Err(TokenError::NotYetValid));
}

#[test]
fn a_tampered_payload_is_rejected() {
    let f = fixture();
    let (token, claims) = issue(&f);
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = serde_json::to_value(&claims).unwrap_or_default();
    payload["sub"] = serde_json::json!(uuid::Uuid::new_v4());
    let tampered = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    assert_eq!(f.verifier.verify(&tampered), Err(TokenError::BadSignature));
    assert!(f.verifier.verify("garbage").is_err());
    assert!(f.verifier.verify("").is_err());
}

#[test]
fn a_ring_of_two_keys_accepts_both_and_the_signer_finds_its_kid() {
    let dir = keys::temp_dir("auth-ring");
    let old = keys::generate(&dir, "2026-a");
    let new = keys::generate(&dir, "2026-b");
    let ring = PublicKeyRing::load(&[&old.public_path, &new.public_path])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ring.kids(), vec!["2026-a", "2026-b"]);
    let signer_new = Signer::load(&new.private_path, &ring).unwrap_or_else(|e| panic!("{e}"));
    let signer_old = Signer::load(&old.private_path, &ring).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(signer_new.kid(), "2026-b");
    let verifier = Verifier::new(ring, "chatverify", "chatverify");
    for signer in [signer_new, signer_old] {
        let (token, _) = signer
            .issue_access(
                &user(),
                uuid::Uuid::new_v4(),
                "chatverify",
                "chatverify",
                60,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(verifier.verify(&token).is_ok());
    }
}

#[test]
fn key_loading_errors_name_the_variable() {
    let dir = keys::temp_dir("auth-bad");
    let a = keys::generate(&dir, "a");
    let b = keys::generate(&dir.join("b"), "b");
    let ring = PublicKeyRing::load(&[&a.public_path]).unwrap_or_else(|e| panic!("{e}"));
    let err = Signer::load(&b.private_path, &ring)
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("JWT_PRIVATE_KEY")));
    let err = PublicKeyRing::load(&[&a.private_path])
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("JWT_PUBLIC_KEYS")));
    let err = Signer::load(&a.public_path, &ring)
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("JWT_PRIVATE_KEY")));
    let missing = dir.join("missing.pem");
    let err = PublicKeyRing::load(&[&missing])
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("JWT_PUBLIC_KEYS")));
}
