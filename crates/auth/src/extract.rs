//! Authenticating a request: signature and claims, then revocation in Redis.

use std::{future::Future, pin::Pin, sync::Arc};

use actix_web::{
    FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, http::StatusCode, web,
};
use platform::http_error::{JsonError, ToJsonError};

use crate::{
    claims::Claims,
    revocation::RevocationKeys,
    verify::{TokenError, Verifier},
};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("token has been revoked")]
    Revoked,
    /// Redis could not be asked: refuse rather than accept a possibly revoked token.
    #[error("revocation check unavailable")]
    Unavailable,
}

impl AuthError {
    pub fn is_expired(&self) -> bool {
        matches!(self, Self::Token(TokenError::Expired))
    }
}

/// Rendered by the one JSON error type both services use (`platform::http_error`).
impl ToJsonError for AuthError {
    fn to_json_error(&self) -> JsonError<'_> {
        match self {
            Self::Unavailable => JsonError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "authentication is temporarily unavailable",
            )
            .retry_after(1),
            other => JsonError::new(StatusCode::UNAUTHORIZED, "invalid_token", other.to_string())
                .bearer_challenge(),
        }
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        self.to_json_error().status
    }

    fn error_response(&self) -> HttpResponse {
        self.to_json_error().response()
    }
}

/// Verifies tokens and checks revocation. Register it as `web::Data<Authenticator>`.
pub struct Authenticator {
    verifier: Verifier,
    redis: platform::redis::Shared,
    keys: RevocationKeys,
}

impl Authenticator {
    pub fn new(verifier: Verifier, redis: platform::redis::Shared, keys: RevocationKeys) -> Self {
        Self {
            verifier,
            redis,
            keys,
        }
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    pub fn keys(&self) -> &RevocationKeys {
        &self.keys
    }

    pub async fn authenticate(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.verifier.verify(token)?;
        let mut conn = self.redis.clone();
        match self.keys.is_revoked(&mut conn, &claims).await {
            Ok(false) => Ok(claims),
            Ok(true) => Err(AuthError::Revoked),
            Err(e) => {
                tracing::warn!(error = %e, "revocation check failed");
                Err(AuthError::Unavailable)
            }
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An authenticated caller; use as a handler argument.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

impl FromRequest for Authenticated {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = req
            .app_data::<web::Data<Authenticator>>()
            .map(|d| Arc::clone(d));
        let token = bearer_token(req).map(str::to_owned);
        Box::pin(async move {
            let Some(auth) = auth else {
                tracing::error!("Authenticator is not registered as app data");
                return Err(AuthError::Unavailable);
            };
            let token = token.ok_or(AuthError::Missing)?;
            auth.authenticate(&token).await.map(Authenticated)
        })
    }
}
