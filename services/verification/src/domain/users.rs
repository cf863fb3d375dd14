//! Users: created by their first verified address, renamed by themselves.

use platform::database::PgPool;
use uuid::Uuid;

use super::email::Email;
use crate::{
    error::ApiError,
    store::users::{self, User},
};

#[derive(Clone)]
pub struct Users {
    pub db: PgPool,
}

impl Users {
    /// The user of a just-proven address, created on first success.
    pub async fn verified(&self, email: &Email) -> Result<User, ApiError> {
        let mut db = self.db.get().await?;
        let user = users::upsert_verified(
            &mut db,
            super::random_uuid(),
            email.as_str(),
            &email.default_display_name(),
        )
        .await?;
        tracing::info!(user_id = %user.id, "email verified");
        Ok(user)
    }

    /// A user who still exists; a deleted one's tokens are `invalid_token`.
    pub async fn get(&self, id: Uuid) -> Result<User, ApiError> {
        let mut db = self.db.get().await?;
        users::find(&mut db, id)
            .await?
            .ok_or(ApiError::InvalidToken)
    }

    pub async fn rename(&self, id: Uuid, raw_name: &str) -> Result<User, ApiError> {
        let name = valid_display_name(raw_name)?;
        let mut db = self.db.get().await?;
        users::set_display_name(&mut db, id, name)
            .await?
            .ok_or(ApiError::InvalidToken)
    }
}

/// 1–32 characters after trimming, none of them control or formatting characters
/// (a name is shown to other people, so no bidi tricks or zero-width padding).
fn valid_display_name(raw: &str) -> Result<&str, ApiError> {
    let name = raw.trim();
    let len = name.chars().count();
    if !(1..=32).contains(&len) {
        return Err(ApiError::InvalidRequest(
            "display_name must be 1 to 32 characters".into(),
        ));
    }
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    if name.chars().any(invisible) {
        return Err(ApiError::InvalidRequest(
            "display_name has control or invisible characters".into(),
        ));
    }
    Ok(name)
}
