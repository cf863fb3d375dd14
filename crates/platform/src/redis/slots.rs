//! Redis Cluster hash slots, for keys that must share one (a script or MULTI
//! may only touch keys of one slot). Redis hashes the text inside a key's first
//! `{…}` pair if it is not empty, else the whole key. A key built from user
//! input (an email address may hold braces) cannot be named as another key's
//! tag verbatim, so [`tag_for`] gives a short brace-free tag that hashes to the
//! same slot as any key.

use std::sync::OnceLock;

/// Slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The slot Redis Cluster gives `key`.
pub fn slot(key: &str) -> u16 {
    crc16(hash_input(key.as_bytes())) % SLOTS
}

/// A tag (without braces) whose key lands in `key`'s slot: `{tag}` in another
/// key puts that key beside `key`, whatever `key` contains.
pub fn tag_for(key: &str) -> &'static str {
    tags()[usize::from(slot(key))]
}

/// A tag (without braces) that hashes to `slot` itself.
pub fn tag_of_slot(slot: u16) -> &'static str {
    tags()[usize::from(slot % SLOTS)]
}

fn hash_input(key: &[u8]) -> &[u8] {
    key.iter()
        .position(|b| *b == b'{')
        .and_then(|open| {
            let close = key[open + 1..].iter().position(|b| *b == b'}')?;
            (close > 0).then(|| &key[open + 1..open + 1 + close])
        })
        .unwrap_or(key)
}

/// CRC16-XMODEM, as the cluster specification defines the key hash.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for byte in bytes {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The shortest tag of `[a-z0-9]` for every slot, found once (46 656 strings
/// of three characters cover all 16 384 slots; about a millisecond).
fn tags() -> &'static [&'static str] {
    static TAGS: OnceLock<Vec<&'static str>> = OnceLock::new();
    TAGS.get_or_init(|| {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut found: Vec<Option<String>> = vec![None; usize::from(SLOTS)];
        let mut missing = usize::from(SLOTS);
        'search: for len in 1..=4 {
            let mut indices = vec![0usize; len];
            loop {
                let tag: String = indices.iter().map(|&i| char::from(ALPHABET[i])).collect();
                let s = usize::from(crc16(tag.as_bytes()) % SLOTS);
                if found[s].is_none() {
                    found[s] = Some(tag);
                    missing -= 1;
                    if missing == 0 {
                        break 'search;
                    }
                }
                // The next string of this length, as an odometer.
                let mut at = len;
                loop {
                    if at == 0 {
                        continue 'search;
                    }
                    at -= 1;
                    indices[at] += 1;
                    if indices[at] < ALPHABET.len() {
                        break;
                    }
                    indices[at] = 0;
                }
            }
        }
        found
            .into_iter()
            .map(|tag| &*Box::leak(tag.unwrap_or_default().into_boxed_str()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_the_cluster_specification() {
        assert_eq!(slot("123456789"), 0x31c3);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        assert_eq!(slot("foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(slot("foo{{bar}}zap"), crc16(b"{bar") % SLOTS);
    }

    #[test]
    fn every_slot_has_a_brace_free_tag_that_lands_there() {
        let tags = tags();
        assert_eq!(tags.len(), usize::from(SLOTS));
        for (s, tag) in tags.iter().enumerate() {
            assert!(!tag.is_empty() && !tag.contains(['{', '}']));
            assert_eq!(usize::from(slot(tag)), s);
        }
    }

    #[test]
    fn a_key_named_by_tag_lands_beside_any_key() {
        for key in [
            "email_verification:ann@x.com",
            "email_verification:a{b}c@x",
            "a}b{",
            "{}x",
        ] {
            let companion = format!("cooldown:{{{}}}:{key}", tag_for(key));
            assert_eq!(slot(&companion), slot(key), "{key}");
        }
    }
}
