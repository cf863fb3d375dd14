//! Properties of address normalization over generated input: real addresses
//! in any case with surrounding blanks, and arbitrary text.

use proptest::prelude::*;

use super::{Email, InvalidEmail};

/// A dot-atom local part and a host name, as the contract accepts them.
fn address() -> impl Strategy<Value = String> {
    let atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}";
    let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?";
    (
        proptest::collection::vec(atom, 1..4),
        proptest::collection::vec(label, 1..4),
    )
        .prop_map(|(atoms, labels)| format!("{}@{}", atoms.join("."), labels.join(".")))
        .prop_filter("within the length limits", |a| {
            a.len() <= 254 && a.split('@').next().is_some_and(|l| l.len() <= 64)
        })
}

fn blanks() -> impl Strategy<Value = String> {
    "[ \t]{0,3}"
}

proptest! {
    #[test]
    fn any_text_is_refused_or_normalized_and_never_panics(raw in "\\PC{0,80}|.{0,80}") {
        if let Ok(email) = Email::parse(&raw) {
            let s = email.as_str();
            prop_assert!(s.is_ascii() && !s.bytes().any(|b| b.is_ascii_control() || b == b' '));
            prop_assert_eq!(s, s.to_ascii_lowercase());
            prop_assert!(s.len() <= 254 && s.matches('@').count() == 1);
            // The stored spelling is a fixed point.
            prop_assert_eq!(Email::parse(s), Ok(email.clone()));
        }
    }

    #[test]
    fn real_addresses_are_accepted_whatever_their_case_and_blanks(
        address in address(),
        before in blanks(),
        after in blanks(),
    ) {
        let parsed = Email::parse(&format!("{before}{address}{after}"));
        let lower = address.to_ascii_lowercase();
        prop_assert_eq!(parsed.as_ref().map(Email::as_str), Ok(lower.as_str()));
        let upper = Email::parse(&address.to_ascii_uppercase());
        prop_assert_eq!(upper, parsed);
    }

    #[test]
    fn a_control_invisible_or_non_ascii_character_anywhere_is_refused(
        address in address(),
        at in 0usize..64,
        bad in prop_oneof![
            proptest::char::range('\u{0}', '\u{1f}'),
            Just('\u{7f}'),
            Just('\u{200b}'),
            Just('\u{202e}'),
            Just('\u{2066}'),
            Just('\u{feff}'),
            Just('é'),
            Just('а'),
        ],
    ) {
        // Inside the address, not where trimming would take it off.
        let at = 1 + at % (address.len() - 1);
        let mut raw = address.clone();
        raw.insert(at, bad);
        prop_assert_eq!(Email::parse(&raw), Err(InvalidEmail));
    }

    #[test]
    fn a_display_name_form_or_a_second_at_is_refused(address in address(), name in "[A-Za-z]{1,8}") {
        prop_assert_eq!(Email::parse(&format!("{name} <{address}>")), Err(InvalidEmail));
        prop_assert_eq!(Email::parse(&format!("{name}@{address}")), Err(InvalidEmail));
    }
}
