//! Room names: public rooms, and direct rooms that only their two users may use.

use std::{fmt, sync::Arc};

use uuid::Uuid;

/// The room a socket joins when its URL names none.
pub const LOBBY: &str = "lobby";

const MAX_PUBLIC_LEN: usize = 64;

/// Room names as a regular expression, for the API descriptions: a public name,
/// or `dm.` and two canonical (lower-case, hyphenated) uuids. That the lower id
/// comes first, and that the two differ, only [`RoomName::parse`] checks.
pub const ROOM_PATTERN: &str = concat!(
    r"^([a-z0-9][a-z0-9_-]{0,63}|dm\.",
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.",
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
);

const ROOM_DESCRIPTION: &str = "A public room (a-z, 0-9, _ and -, 1-64 characters, starting \
     with a letter or digit), or the direct room `dm.<uuid>.<uuid>` of two users, lower id \
     first, that only those two may use.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a room name: use a-z, 0-9, _ and - (1-64 characters, starting with a letter or digit), or dm.<uuid>.<uuid> with the lower id first"
)]
pub struct InvalidRoom(pub String);

/// A validated room name. Cloning shares the name, which is also the key of the
/// fan-out tables and of every delivered message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomName {
    name: Arc<str>,
    /// The two users of a direct room.
    direct: Option<(Uuid, Uuid)>,
}

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, InvalidRoom> {
        let direct = if let Some(rest) = raw.strip_prefix("dm.") {
            Some(parse_direct(rest).ok_or_else(|| InvalidRoom(raw.to_owned()))?)
        } else if is_public(raw) {
            None
        } else {
            return Err(InvalidRoom(raw.to_owned()));
        };
        Ok(Self {
            name: Arc::from(raw),
            direct,
        })
    }

    pub fn lobby() -> Self {
        Self {
            name: Arc::from(LOBBY),
            direct: None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn shared(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    /// The two users of a direct room.
    pub fn direct_users(&self) -> Option<(Uuid, Uuid)> {
        self.direct
    }

    /// Public rooms are open to everyone; a direct room only to its two users.
    pub fn admits(&self, user: Uuid) -> bool {
        self.direct.is_none_or(|(a, b)| user == a || user == b)
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl schemars::JsonSchema for RoomName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RoomName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": ROOM_PATTERN,
            "description": ROOM_DESCRIPTION,
        })
    }
}

impl utoipa::PartialSchema for RoomName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(ROOM_PATTERN))
            .description(Some(ROOM_DESCRIPTION))
            .into()
    }
}

impl utoipa::ToSchema for RoomName {}

fn is_public(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else {
        return false;
    };
    bytes.len() <= MAX_PUBLIC_LEN
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && rest
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `<uuid>.<uuid>`, both in canonical lower-case hyphenated form, lower id first,
/// so each pair of users has exactly one direct room; a user has none with
/// themselves.
fn parse_direct(rest: &str) -> Option<(Uuid, Uuid)> {
    let (a, b) = rest.split_once('.')?;
    let ua = canonical_uuid(a)?;
    let ub = canonical_uuid(b)?;
    (a < b).then_some((ua, ub))
}

fn canonical_uuid(s: &str) -> Option<Uuid> {
    let id = Uuid::parse_str(s).ok()?;
    (id.hyphenated().to_string() == s).then_some(id)
}

/// The direct room of two users, lower id first.
pub fn direct_room_name(a: Uuid, b: Uuid) -> String {
    let (lo, hi) = if a.to_string() <= b.to_string() {
        (a, b)
    } else {
        (b, a)
    };
    format!("dm.{lo}.{hi}")
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_names_follow_the_pattern() {
        for ok in ["lobby", "a", "0", "room_1-b", &"a".repeat(64)] {
            assert!(RoomName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Lobby", "_a", "-a", "a b", "é", "a.b", &"a".repeat(65)] {
            assert!(RoomName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn direct_rooms_need_two_canonical_ids_lower_first() {
        let a = Uuid::from_u128(0xa1);
        let b = Uuid::from_u128(0xb2);
        let good = direct_room_name(b, a);
        let room = RoomName::parse(&good).unwrap_or_else(|e| panic!("{e}"));
        assert!(room.admits(a) && room.admits(b));
        assert!(!room.admits(Uuid::from_u128(3)));
        assert!(RoomName::parse(&format!("dm.{b}.{a}")).is_err());
        assert!(RoomName::parse(&format!("dm.{a}.{a}")).is_err());
        assert!(RoomName::parse(&format!("dm.{a}")).is_err());
        assert!(RoomName::parse(&format!("dm.{a}.{b}.x")).is_err());
        assert!(RoomName::parse(&format!("dm.{}.{b}", a.simple())).is_err());
        assert!(RoomName::parse(&format!("dm.{a}.{}", b.to_string().to_uppercase())).is_err());
    }
}
