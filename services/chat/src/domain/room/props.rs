//! Properties of room names over generated input: the contract's pattern for
//! public rooms, and direct rooms of two different users, lower id first.

use proptest::prelude::*;
use uuid::Uuid;

use super::{RoomName, direct_room_name};

/// `^[a-z0-9][a-z0-9_-]{0,63}$`, stated independently of the parser.
fn matches_public_pattern(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && s.chars().count() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn is_canonical_direct(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("dm.") else {
        return false;
    };
    let Some((a, b)) = rest.split_once('.') else {
        return false;
    };
    let canonical = |x: &str| Uuid::parse_str(x).is_ok_and(|u| u.hyphenated().to_string() == x);
    canonical(a) && canonical(b) && a < b
}

proptest! {
    #[test]
    fn names_of_the_pattern_are_public_rooms(name in "[a-z0-9][a-z0-9_-]{0,63}") {
        let room = RoomName::parse(&name);
        prop_assert!(room.as_ref().is_ok_and(|r| r.direct_users().is_none() && r.as_str() == name));
    }

    #[test]
    fn any_other_text_is_an_invalid_room(raw in "\\PC{0,80}|[a-zA-Z0-9_.\\- ]{0,70}|dm\\..{0,80}") {
        let accepted = RoomName::parse(&raw).is_ok();
        prop_assert_eq!(accepted, matches_public_pattern(&raw) || is_canonical_direct(&raw));
    }

    #[test]
    fn a_direct_room_admits_exactly_its_two_users(a: u128, b: u128, other: u128) {
        let (a, b, other) = (Uuid::from_u128(a), Uuid::from_u128(b), Uuid::from_u128(other));
        prop_assume!(a != b && other != a && other != b);
        let name = direct_room_name(a, b);
        prop_assert_eq!(&name, &direct_room_name(b, a));
        let room = RoomName::parse(&name);
        prop_assert!(room.is_ok());
        let room = room.unwrap_or_else(|_| RoomName::lobby());
        prop_assert!(room.admits(a) && room.admits(b) && !room.admits(other));
    }

    #[test]
    fn a_direct_room_in_any_other_spelling_is_invalid(a: u128, b: u128) {
        let (a, b) = (Uuid::from_u128(a), Uuid::from_u128(b));
        prop_assume!(a != b);
        let (lo, hi) = if a.to_string() < b.to_string() { (a, b) } else { (b, a) };
        for bad in [
            format!("dm.{hi}.{lo}"),
            format!("dm.{lo}.{lo}"),
            format!("dm.{}.{hi}", lo.simple()),
            format!("dm.{}.{}", lo, hi.to_string().to_uppercase()),
            format!("dm.{lo}.{hi}."),
            format!("dm.{lo}"),
            format!("DM.{lo}.{hi}"),
        ] {
            // (An id of digits only has no upper case: that spelling is the same.)
            let same = bad == format!("dm.{lo}.{hi}");
            prop_assert!(same || RoomName::parse(&bad).is_err(), "{}", bad);
        }
    }
}
