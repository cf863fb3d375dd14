//! Users: created by their first verified address, renamed by themselves.

use platform::database::PgPool;
use uuid::Uuid;

use super::{email::Email, user_upserts::UserUpserts};
use crate::{
    error::ApiError,
    store::users::{self, User},
};

#[derive(Clone)]
pub struct Users {
    pub db: PgPool,
    /// Sign-ins' upserts, batched (see `user_upserts`).
    pub upserts: UserUpserts,
}

impl Users {
    /// The user of a just-proven address, created on first success.
    pub async fn verified(&self, email: &Email) -> Result<User, ApiError> {
        self.upserts.verified(email).await
    }

    /// A user who still exists; a deleted one's tokens are `invalid_token`.
    pub async fn get(&self, id: Uuid) -> Result<User, ApiError> {
        let mut db = self.db.get().await?;
        users::find(&mut db, id)
            .await?
            .ok_or(ApiError::InvalidToken)
    }

    /// The user of a login whose session names its address; gone is `invalid_token`.
    pub async fn by_email(&self, email: &str) -> Result<User, ApiError> {
        let mut db = self.db.get().await?;
        users::find_by_email(&mut db, email)
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

/// Characters in a display name, after trimming.
pub const DISPLAY_NAME_CHARS: std::ops::RangeInclusive<usize> = 1..=32;

/// What a display name may not hold: control characters (`char::is_control`) and
/// the invisible and bidirectional formatting ones (a name is shown to other
/// people, so no bidi tricks or zero-width padding).
pub const HIDDEN_CHARS: [std::ops::RangeInclusive<char>; 6] = [
    '\u{0}'..='\u{1f}',
    '\u{7f}'..='\u{9f}',
    '\u{200b}'..='\u{200f}',
    '\u{202a}'..='\u{202e}',
    '\u{2060}'..='\u{2069}',
    '\u{feff}'..='\u{feff}',
];

/// The rule as a regular expression, for the API description: whitespace
/// around the name (which the service trims), then 1 to 32 characters that are
/// not hidden, the first and last of them not whitespace either.
pub fn display_name_pattern() -> String {
    const { assert!(*DISPLAY_NAME_CHARS.start() == 1) };
    let hidden: String = HIDDEN_CHARS
        .iter()
        .map(|r| {
            format!(
                "\\u{:04x}-\\u{:04x}",
                u32::from(*r.start()),
                u32::from(*r.end())
            )
        })
        .collect();
    let between = DISPLAY_NAME_CHARS.end() - 2;
    format!("^\\s*[^\\s{hidden}]([^{hidden}]{{0,{between}}}[^\\s{hidden}])?\\s*$")
}

/// 1–32 characters after trimming, none of them in [`HIDDEN_CHARS`].
fn valid_display_name(raw: &str) -> Result<&str, ApiError> {
    let name = raw.trim();
    let len = name.chars().count();
    if !DISPLAY_NAME_CHARS.contains(&len) {
        return Err(ApiError::InvalidRequest(format!(
            "display_name must be {} to {} characters",
            DISPLAY_NAME_CHARS.start(),
            DISPLAY_NAME_CHARS.end()
        )));
    }
    let invisible = |c: char| HIDDEN_CHARS.iter().any(|r| r.contains(&c));
    if name.chars().any(invisible) {
        return Err(ApiError::InvalidRequest(
            "display_name has control or invisible characters".into(),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> jsonschema::Validator {
        let schema = serde_json::json!({"type": "string", "pattern": display_name_pattern()});
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_pattern_is_the_rule_for_every_hidden_character() {
        let schema = schema();
        for range in HIDDEN_CHARS {
            for c in [*range.start(), *range.end()] {
                let name = format!("ann{c}lee");
                assert!(valid_display_name(&name).is_err(), "{c:?}");
                assert!(!schema.is_valid(&name.into()), "{c:?}");
            }
        }
        assert!('\u{85}'.is_control() && '\u{9f}'.is_control() && !'\u{a0}'.is_control());
    }

    #[test]
    fn the_pattern_accepts_exactly_the_names_the_service_accepts() {
        let schema = schema();
        let longest = "é".repeat(32);
        let accepted = [
            "ann".to_owned(),
            "Ann Lee".into(),
            " ann ".into(),
            "\tann\n".into(),
            "Zoë".into(),
            "李".into(),
            "a\u{a0}b".into(),
            "🙂".into(),
            "x.y-z_1".into(),
            longest.clone(),
            format!("  {longest}\u{3000}"),
            format!("a{}b", " ".repeat(30)),
        ];
        for name in &accepted {
            assert!(schema.is_valid(&name.as_str().into()), "{name:?}");
            assert!(valid_display_name(name).is_ok(), "{name:?}");
        }
        let refused = [
            String::new(),
            " ".into(),
            "\u{a0}".into(),
            "\u{3000} ".into(),
            "\u{2028}".into(),
            "\u{200b}".into(),
            "a\u{200b}".into(),
            format!("{longest}x"),
            format!("a{}b", " ".repeat(31)),
        ];
        for name in &refused {
            assert!(!schema.is_valid(&name.as_str().into()), "{name:?}");
            assert!(valid_display_name(name).is_err(), "{name:?}");
        }
    }
}
