//! Token pairs: a short-lived access JWT and an opaque, rotating refresh token per
//! login session (`sid`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{RngExt, rand_core::UnwrapErr, rngs::SysRng};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use auth::{Claims, RevocationReason, TokenUser, verify::LEEWAY_SECS};

use crate::{
    codes::hex,
    error::ApiError,
    startup::AppState,
    store::{
        sessions::{self, Rotation},
        users::{self, User},
    },
};

#[derive(Debug, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub user: User,
}

/// `<sid>.<secret>`: the sid finds the session, the secret proves possession.
struct RefreshToken {
    sid: Uuid,
    secret: String,
}

impl RefreshToken {
    fn generate(sid: Uuid) -> Self {
        let bytes: [u8; 32] = UnwrapErr(SysRng).random();
        Self {
            sid,
            secret: URL_SAFE_NO_PAD.encode(bytes),
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        let (sid, secret) = raw.trim().split_once('.')?;
        let sid = Uuid::parse_str(sid).ok()?;
        let decoded = URL_SAFE_NO_PAD.decode(secret).ok()?;
        (decoded.len() == 32).then(|| Self {
            sid,
            secret: secret.to_owned(),
        })
    }

    fn hash(&self) -> String {
        hex(&Sha256::digest(self.secret.as_bytes()))
    }

    fn encode(&self) -> String {
        format!("{}.{}", self.sid.simple(), self.secret)
    }
}

/// A new login session for a user who just proved their address.
pub async fn start_session(state: &AppState, user: User) -> Result<TokenPair, ApiError> {
    let sid = Uuid::new_v4();
    let refresh = RefreshToken::generate(sid);
    let mut conn = state.redis.get().await?;
    sessions::create(
        &mut conn,
        &state.keys,
        sid,
        user.id,
        &refresh.hash(),
        state.config.tokens.refresh_ttl_secs,
    )
    .await?;
    pair(state, user, &refresh)
}

pub async fn refresh(state: &AppState, raw: &str) -> Result<TokenPair, ApiError> {
    let presented = RefreshToken::parse(raw).ok_or(ApiError::InvalidToken)?;
    let next = RefreshToken::generate(presented.sid);
    let mut conn = state.redis.get().await?;
    let rotation = sessions::rotate(
        &mut conn,
        &state.keys,
        presented.sid,
        &presented.hash(),
        &next.hash(),
        state.config.tokens.refresh_ttl_secs,
    )
    .await?;
    match rotation {
        Rotation::Rotated { user_id } => {
            let mut db = state.db.get().await?;
            let user = users::find(&mut db, user_id)
                .await?
                .ok_or(ApiError::InvalidToken)?;
            pair(state, user, &next)
        }
        Rotation::Reused => {
            tracing::warn!(sid = %presented.sid, "refresh token reused; revoking the login");
            state
                .auth
                .keys()
                .revoke(
                    &mut conn,
                    presented.sid,
                    None,
                    sid_mark_ttl(state),
                    RevocationReason::RefreshReuse,
                )
                .await?;
            Err(ApiError::InvalidToken)
        }
        Rotation::Invalid => Err(ApiError::InvalidToken),
    }
}

/// Ends the access token's login (and the refresh token's, if it names another one
/// of the same user's live sessions).
pub async fn logout(
    state: &AppState,
    claims: &Claims,
    refresh_token: Option<&str>,
) -> Result<(), ApiError> {
    let mut conn = state.redis.get().await?;
    let now = chrono::Utc::now().timestamp();
    let access = Some((claims.jti, claims.remaining_secs(now) + LEEWAY_SECS));
    let keys = state.auth.keys();
    keys.revoke(
        &mut conn,
        claims.sid,
        access,
        sid_mark_ttl(state),
        RevocationReason::Logout,
    )
    .await?;
    sessions::delete(&mut conn, &state.keys, claims.sid).await?;
    if let Some(other) = refresh_token.and_then(RefreshToken::parse)
        && other.sid != claims.sid
        && sessions::current_hash(&mut conn, &state.keys, other.sid)
            .await?
            .is_some_and(|h| crate::codes::secret_eq(&h, &other.hash()))
    {
        keys.revoke(
            &mut conn,
            other.sid,
            None,
            sid_mark_ttl(state),
            RevocationReason::Logout,
        )
        .await?;
        sessions::delete(&mut conn, &state.keys, other.sid).await?;
    }
    Ok(())
}

/// A revoked login's marker must outlive every access token issued to it.
fn sid_mark_ttl(state: &AppState) -> u64 {
    state.config.tokens.access_ttl_secs + LEEWAY_SECS
}

fn pair(state: &AppState, user: User, refresh: &RefreshToken) -> Result<TokenPair, ApiError> {
    let cfg = &state.config.tokens;
    let token_user = TokenUser {
        id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
    };
    let (access_token, _) = state
        .signer
        .issue_access(
            &token_user,
            refresh.sid,
            &cfg.issuer,
            &cfg.audience,
            cfg.access_ttl_secs,
        )
        .map_err(|e| anyhow::anyhow!("signing an access token: {e}"))?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: cfg.access_ttl_secs,
        refresh_token: refresh.encode(),
        user,
    })
}
