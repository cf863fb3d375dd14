//! Token pairs: a short-lived access JWT and an opaque, rotating refresh token per
//! login session (`sid`), with an idle lifetime pushed forward by each refresh
//! and an absolute one that ends even an active login.

use std::sync::Arc;

use auth::{Claims, Revocation, RevocationReason, Signer, TokenUser, verify::LEEWAY_SECS};
use deadpool_redis::redis;
use serde::Serialize;
use uuid::Uuid;

use super::{
    codes::secret_eq,
    refresh_token::{LegacyRefreshToken, RefreshToken, TagKey},
    users::Users,
};
use crate::{
    error::ApiError,
    store::{
        Keys,
        client_limits::{self, Place},
        legacy_sessions,
        sessions::{self, Ending, Lifetimes, NewSession, Owner, Presented, Rotation},
        users::User,
    },
};

#[derive(Debug, Clone)]
pub struct TokenRules {
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: u64,
    /// Idle lifetime: a refresh token unused this long dies.
    pub refresh_ttl_secs: u64,
    /// Absolute lifetime of a login, however often it is refreshed.
    pub login_max_lifetime_secs: u64,
}

/// What a sign-in (confirm) and a refresh answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// An EdDSA JWT for `Authorization: Bearer` and chat's `?token=`.
    pub access_token: String,
    pub token_type: TokenType,
    /// Seconds the access token lives (`ACCESS_TOKEN_TTL`).
    pub expires_in: u64,
    /// Opaque; each refresh replaces it, and presenting a replaced one ends the login.
    pub refresh_token: String,
    pub user: User,
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub enum TokenType {
    Bearer,
}

/// Everything starting, refreshing and ending logins needs.
#[derive(Clone)]
pub struct Sessions {
    pub redis: platform::redis::Shared,
    pub keys: Keys,
    pub signer: Arc<Signer>,
    pub tag_key: TagKey,
    pub rules: TokenRules,
    pub users: Users,
}

/// A login about to start. Its first refresh token is issued before the guess
/// is checked, so that on one Redis node the guess's own script can store the
/// session: a round trip per login less (`store::code_limits`).
pub struct NewLogin {
    refresh: RefreshToken,
    born_unix: i64,
    ttl_secs: u64,
}

impl NewLogin {
    /// The session to store once `email` is proven.
    pub fn session(&self, email: &str) -> NewSession {
        NewSession {
            sid: self.refresh.sid,
            email: email.to_owned(),
            digest: self.refresh.digest(),
            born_unix: self.born_unix,
            ttl_secs: self.ttl_secs,
        }
    }
}

impl Sessions {
    pub fn new_login(&self) -> NewLogin {
        self.login_as(super::random_uuid())
    }

    /// Generation 1 of login `sid`, born now.
    fn login_as(&self, sid: Uuid) -> NewLogin {
        let lifetimes = self.lifetimes();
        NewLogin {
            refresh: RefreshToken::issue(&self.tag_key, sid, 1),
            born_unix: lifetimes.now_unix,
            ttl_secs: lifetimes.idle_secs.min(lifetimes.absolute_secs),
        }
    }

    /// The token pair of a new login whose session the guess already stored.
    pub fn started(&self, user: User, login: &NewLogin) -> Result<TokenPair, ApiError> {
        self.pair(user, &login.refresh)
    }

    /// Stores a new login's session for a user who just proved their address,
    /// and answers its token pair. `proven` is the per-client place the
    /// successful guess took: given back in the same round trip (it did not
    /// fail, so it must not count).
    pub async fn start(
        &self,
        user: User,
        login: &NewLogin,
        proven: Option<&Place>,
    ) -> Result<TokenPair, ApiError> {
        let mut pipe = redis::pipe();
        if let Some(place) = proven {
            client_limits::release_into(&mut pipe, place);
        }
        sessions::create_into(&mut pipe, &self.keys, &login.session(&user.email));
        pipe.query_async::<()>(&mut self.redis.clone()).await?;
        self.started(user, login)
    }

    /// Rotates a refresh token. Everything that can fail without changing state
    /// (reading the session's user, loading the user from PostgreSQL) happens
    /// first, so a failure leaves the presented token valid for a retry.
    pub async fn refresh(&self, raw: &str) -> Result<TokenPair, ApiError> {
        let Some(presented) = RefreshToken::parse(&self.tag_key, raw) else {
            return match LegacyRefreshToken::parse(raw) {
                Some(legacy) => self.upgrade(&legacy).await,
                None => Err(ApiError::InvalidToken),
            };
        };
        let mut redis = self.redis.clone();
        let user = match sessions::owner_of(&mut redis, &self.keys, presented.sid).await? {
            Some(Owner::Email(email)) => self.users.by_email(&email).await?,
            Some(Owner::User(id)) => self.users.get(id).await?,
            None => return Err(ApiError::InvalidToken),
        };
        let next = RefreshToken::issue(&self.tag_key, presented.sid, presented.generation + 1);
        let message = announcement(presented.sid, RevocationReason::RefreshReuse)?;
        let rotation = sessions::rotate(
            &mut redis,
            &self.keys,
            &Presented {
                sid: presented.sid,
                generation: presented.generation,
                genuine: presented.genuine,
                digest: &presented.digest(),
                next_digest: &next.digest(),
            },
            &self.lifetimes(),
            &Ending {
                mark_ttl_secs: self.mark_ttl(0),
                reason: "refresh_reuse",
                message: &message,
            },
        )
        .await?;
        match rotation {
            Rotation::Rotated { .. } => self.pair(user, &next),
            Rotation::Reused => {
                tracing::warn!(sid = %presented.sid, "refresh token reused; the login was ended");
                Err(ApiError::InvalidToken)
            }
            Rotation::Invalid => Err(ApiError::InvalidToken),
        }
    }

    /// A login from before generations presents its old token: it continues as
    /// a session of the current form (same sid, generation 1), or ends if the
    /// token was already rotated away.
    async fn upgrade(&self, legacy: &LegacyRefreshToken) -> Result<TokenPair, ApiError> {
        let mut redis = self.redis.clone();
        let user_id = legacy_sessions::user_of(&mut redis, &self.keys, legacy.sid)
            .await?
            .ok_or(ApiError::InvalidToken)?;
        let user = self.users.get(user_id).await?;
        match legacy_sessions::take(&mut redis, &self.keys, legacy.sid, &legacy.digest()).await? {
            legacy_sessions::Taken::Current { .. } => {
                self.start(user, &self.login_as(legacy.sid), None).await
            }
            legacy_sessions::Taken::Reused => {
                tracing::warn!(sid = %legacy.sid, "refresh token reused; ending the login");
                let message = announcement(legacy.sid, RevocationReason::RefreshReuse)?;
                let ending = Ending {
                    mark_ttl_secs: self.mark_ttl(0),
                    reason: "refresh_reuse",
                    message: &message,
                };
                sessions::end(&mut redis, &self.keys, legacy.sid, &ending).await?;
                Err(ApiError::InvalidToken)
            }
            legacy_sessions::Taken::Invalid => Err(ApiError::InvalidToken),
        }
    }

    /// Ends the access token's login, and the refresh token's if it is a live
    /// token of another login. Each login ends in one atomic step (session gone,
    /// marked revoked, announced), so a failure part-way leaves it whole and a
    /// retry finishes the job.
    pub async fn logout(
        &self,
        claims: &Claims,
        refresh_token: Option<&str>,
    ) -> Result<(), ApiError> {
        let mut redis = self.redis.clone();
        let now = chrono::Utc::now().timestamp();
        self.end(
            &mut redis,
            claims.sid,
            self.mark_ttl(claims.remaining_secs(now)),
        )
        .await?;
        let Some(other) = refresh_token.and_then(|t| RefreshToken::parse(&self.tag_key, t)) else {
            return Ok(());
        };
        if other.sid == claims.sid {
            return Ok(());
        }
        let live = sessions::current(&mut redis, &self.keys, other.sid)
            .await?
            .is_some_and(|(generation, digest)| {
                generation == other.generation && secret_eq(&digest, &other.digest())
            });
        if live {
            self.end(&mut redis, other.sid, self.mark_ttl(0)).await?;
        }
        Ok(())
    }

    async fn end(
        &self,
        redis: &mut platform::redis::Shared,
        sid: Uuid,
        mark_ttl_secs: u64,
    ) -> Result<(), ApiError> {
        let message = announcement(sid, RevocationReason::Logout)?;
        let ending = Ending {
            mark_ttl_secs,
            reason: "logout",
            message: &message,
        };
        sessions::end(redis, &self.keys, sid, &ending).await?;
        Ok(())
    }

    /// A revoked login's mark must outlive every access token issued to it: the
    /// configured lifetime, or the presented token's own if that is longer (the
    /// setting may have been lowered since it was issued).
    fn mark_ttl(&self, presented_remaining_secs: u64) -> u64 {
        self.rules.access_ttl_secs.max(presented_remaining_secs) + LEEWAY_SECS
    }

    fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            idle_secs: self.rules.refresh_ttl_secs,
            absolute_secs: self.rules.login_max_lifetime_secs,
            now_unix: chrono::Utc::now().timestamp(),
        }
    }

    fn pair(&self, user: User, refresh: &RefreshToken) -> Result<TokenPair, ApiError> {
        let rules = &self.rules;
        let token_user = TokenUser {
            id: user.id,
            email: user.email.clone(),
            display_name: user.display_name.clone(),
        };
        let (access_token, _) = self
            .signer
            .issue_access(
                &token_user,
                refresh.sid,
                &rules.issuer,
                &rules.audience,
                rules.access_ttl_secs,
            )
            .map_err(|e| anyhow::anyhow!("signing an access token: {e}"))?;
        Ok(TokenPair {
            access_token,
            token_type: TokenType::Bearer,
            expires_in: rules.access_ttl_secs,
            refresh_token: refresh.encode(),
            user,
        })
    }
}

/// The message chat replicas receive on the revocation channel.
fn announcement(sid: Uuid, reason: RevocationReason) -> Result<String, ApiError> {
    serde_json::to_string(&Revocation { sid, reason })
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("serializing a revocation: {e}")))
}
