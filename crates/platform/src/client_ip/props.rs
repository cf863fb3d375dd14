//! Properties of the `X-Forwarded-For` walk over generated chains: every hop
//! form the contract accepts (bare, `ip:port`, `[v6]:port`, mapped IPv4, with
//! spaces), garbled hops an attacker writes, and the header split across lines.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::{TrustedProxies, canonical, limit_key};

/// One hop as the proxy chain wrote it, and what it means.
#[derive(Debug, Clone)]
enum Hop {
    Trusted(String),
    Untrusted(IpAddr, String),
    Garbled(String),
}

fn trusted() -> TrustedProxies {
    TrustedProxies::parse(&["10.0.0.0/8".into(), "fd00::/8".into()]).unwrap_or_default()
}

/// How a hop may be spelled: the forms a real proxy writes.
fn spelled(ip: IpAddr) -> impl Strategy<Value = String> {
    (0u8..5, any::<u16>(), 0usize..3).prop_map(move |(form, port, pad)| {
        let pad = " ".repeat(pad);
        let text = match (form, ip) {
            (1, IpAddr::V4(v4)) => format!("{v4}:{port}"),
            (1, IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
            (2, IpAddr::V4(v4)) => v4.to_ipv6_mapped().to_string(),
            _ => ip.to_string(),
        };
        format!("{pad}{text}{pad}")
    })
}

fn trusted_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 3]>().prop_map(|[a, b, c]| IpAddr::V4(Ipv4Addr::new(10, a, b, c))),
        any::<u64>()
            .prop_map(|low| { IpAddr::V6(Ipv6Addr::from((0xfd00u128 << 112) | u128::from(low))) }),
    ]
}

fn untrusted_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (11u8..=223, any::<[u8; 3]>())
            .prop_map(|(a, [b, c, d])| IpAddr::V4(Ipv4Addr::new(a, b, c, d))),
        any::<u64>().prop_map(|low| {
            IpAddr::V6(Ipv6Addr::from((0x2001_0db8u128 << 96) | u128::from(low)))
        }),
    ]
}

fn hop() -> impl Strategy<Value = Hop> {
    prop_oneof![
        trusted_ip().prop_flat_map(|ip| spelled(ip).prop_map(Hop::Trusted)),
        untrusted_ip().prop_flat_map(|ip| spelled(ip).prop_map(move |s| Hop::Untrusted(ip, s))),
        prop_oneof![
            Just(String::new()),
            Just("unknown".to_owned()),
            Just("999.1.1.1".to_owned()),
            Just("_hidden".to_owned()),
            Just("1.2.3.4:99999".to_owned()),
            "[a-z:\\[\\]0-9 ]{1,12}",
        ]
        .prop_filter("parses as an address", |s| {
            let s = s.trim();
            s.parse::<IpAddr>().is_err() && s.parse::<std::net::SocketAddr>().is_err()
        })
        .prop_map(Hop::Garbled),
    ]
}

fn text(hop: &Hop) -> &str {
    match hop {
        Hop::Trusted(s) | Hop::Untrusted(_, s) | Hop::Garbled(s) => s,
    }
}

/// The contract's rule, stated over the hops themselves.
fn expected(peer: IpAddr, hops: &[Hop]) -> IpAddr {
    for hop in hops.iter().rev() {
        match hop {
            Hop::Garbled(_) => return peer,
            Hop::Trusted(_) => {}
            Hop::Untrusted(ip, _) => return canonical(*ip),
        }
    }
    peer
}

proptest! {
    #[test]
    fn the_client_is_the_rightmost_untrusted_hop_before_any_garbled_one(
        hops in proptest::collection::vec(hop(), 0..8),
        cut in 0usize..8,
        peer in trusted_ip(),
    ) {
        // The same chain as one header, and cut into two headers.
        let joined: Vec<&str> = hops.iter().map(text).collect();
        let one = joined.join(",");
        let at = cut.min(joined.len());
        let (left, right) = (joined[..at].join(","), joined[at..].join(","));
        let want = expected(canonical(peer), &hops);
        prop_assert_eq!(trusted().client_of(peer, &[one.as_str()]), want);
        if at > 0 && at < joined.len() {
            prop_assert_eq!(trusted().client_of(peer, &[left.as_str(), right.as_str()]), want);
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_writes(
        xff in ".{0,80}",
        peer in untrusted_ip(),
    ) {
        prop_assert_eq!(trusted().client_of(peer, &[xff.as_str()]), canonical(peer));
    }

    #[test]
    fn every_address_of_one_ipv6_64_counts_as_one_client(prefix: u64, a: u64, b: u64) {
        let ip = |low: u64| IpAddr::V6(Ipv6Addr::from((u128::from(prefix) << 64) | u128::from(low)));
        prop_assume!(prefix != 0 || a >> 32 != 0xffff);
        prop_assume!(prefix != 0 || b >> 32 != 0xffff);
        prop_assert_eq!(limit_key(ip(a)), limit_key(ip(b)));
    }

    #[test]
    fn a_mapped_ipv4_address_counts_as_the_ipv4_address(v4: [u8; 4]) {
        let v4 = Ipv4Addr::from(v4);
        prop_assert_eq!(limit_key(IpAddr::V6(v4.to_ipv6_mapped())), limit_key(IpAddr::V4(v4)));
    }
}
