//! The client's IP address, believing `X-Forwarded-For` only from configured
//! proxies, and the key per-IP limits count it under.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use actix_web::HttpRequest;
use ipnet::IpNet;

use crate::env::{self, EnvError};

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn from_env() -> Result<Self, EnvError> {
        Self::parse(&env::list("TRUSTED_PROXIES"))
    }

    /// Accepts single addresses (`10.0.0.1`) and CIDRs (`10.0.0.0/8`).
    pub fn parse(items: &[String]) -> Result<Self, EnvError> {
        items
            .iter()
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| env::invalid("TRUSTED_PROXIES", item, "not an IP address or CIDR"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request: see [`TrustedProxies::client_of`].
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        let headers = req.headers().get_all("x-forwarded-for");
        // A header that is not visible ASCII is one hop that does not parse.
        let values: Vec<&str> = headers.map(|v| v.to_str().unwrap_or("\u{0}")).collect();
        Some(self.client_of(peer, &values))
    }

    /// The socket peer, unless it is a trusted proxy. Then `X-Forwarded-For` (all
    /// its headers, in order) is walked from the right: trusted proxies are passed
    /// over, the first untrusted hop is the client, and a hop that does not parse
    /// ends the walk, leaving the peer as the client. Left of a garbled or
    /// untrusted hop is whatever the client chose to write, so the walk never
    /// goes there and never falls back to the left-most hop.
    pub fn client_of(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_for.iter().flat_map(|v| v.split(',')).rev();
        for hop in hops {
            match parse_hop(hop) {
                None => break,
                Some(ip) if self.trusts(ip) => {}
                Some(ip) => return ip,
            }
        }
        peer
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`, canonical.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop
        .parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()?;
    Some(canonical(ip))
}

/// `::ffff:1.2.3.4` and `1.2.3.4` are one client.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// What every per-IP limit counts a client under: an IPv4 address as itself, an
/// IPv6 address by its /64 (one subscriber's whole network: a host picks any of
/// its 2^64 addresses at will, so counting single IPv6 addresses limits nothing).
pub fn limit_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let net = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(net))
        }
    }
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    fn proxies(items: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap_or_default()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_forwards() {
        let req = TestRequest::default()
            .peer_addr(
                "203.0.113.9:5000"
                    .parse()
                    .unwrap_or_else(|_| unreachable!()),
            )
            .insert_header(("X-Forwarded-For", "1.1.1.1"))
            .to_http_request();
        assert_eq!(proxies(&[]).client_ip(&req), Some(ip("203.0.113.9")));
    }

    #[test]
    fn trusted_proxy_forwards_the_rightmost_untrusted_hop() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.5:5000".parse().unwrap_or_else(|_| unreachable!()))
            .insert_header(("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.0.0.4"))
            .to_http_request();
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client_ip(&req),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn a_hop_that_does_not_parse_ends_the_walk_at_the_peer() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.5");
        // The attacker wrote "6.6.6.6, garbage"; skipping the garbage would make
        // the attacker's chosen 6.6.6.6 the client.
        for xff in [
            "6.6.6.6, garbage",
            "6.6.6.6, unknown, 10.0.0.4",
            "6.6.6.6,,10.0.0.4",
            "6.6.6.6, 999.1.1.1",
            "6.6.6.6, _hidden",
        ] {
            assert_eq!(trusted.client_of(peer, &[xff]), peer, "{xff}");
        }
        // The nearest parsed untrusted hop right of the garbage is still found.
        assert_eq!(
            trusted.client_of(peer, &["6.6.6.6, garbage, 198.51.100.7, 10.0.0.4"]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn hops_with_ports_and_brackets_parse() {
        let trusted = proxies(&["10.0.0.0/8", "fd00::/8"]);
        let peer = ip("10.0.0.5");
        let cases = [
            ("198.51.100.7:4711", "198.51.100.7"),
            ("[2001:db8::7]:4711", "2001:db8::7"),
            ("2001:db8::7", "2001:db8::7"),
            (" ::ffff:198.51.100.7 ", "198.51.100.7"),
            ("198.51.100.7, [fd00::1]:80, 10.0.0.4:1234", "198.51.100.7"),
        ];
        for (xff, client) in cases {
            assert_eq!(trusted.client_of(peer, &[xff]), ip(client), "{xff}");
        }
    }

    #[test]
    fn all_trusted_or_no_header_leaves_the_peer_never_the_leftmost_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.5");
        assert_eq!(trusted.client_of(peer, &["10.1.1.1, 10.2.2.2"]), peer);
        assert_eq!(trusted.client_of(peer, &[]), peer);
    }

    #[test]
    fn several_headers_are_one_list_in_order() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.5");
        assert_eq!(
            trusted.client_of(peer, &["6.6.6.6", "198.51.100.7, 10.0.0.4"]),
            ip("198.51.100.7")
        );
        // A garbled second header ends the walk before the first is read.
        assert_eq!(trusted.client_of(peer, &["198.51.100.7", "\u{0}"]), peer);
    }

    #[test]
    fn a_mapped_ipv4_peer_is_matched_as_ipv4() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_of(ip("::ffff:10.0.0.5"), &["198.51.100.7"]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn limit_keys_group_ipv6_by_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(limit_key(ip("198.51.100.7")), "198.51.100.7");
        assert_eq!(limit_key(ip("::ffff:198.51.100.7")), "198.51.100.7");
        assert_eq!(limit_key(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(
            limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            limit_key(ip("2001:db8:1:2::1"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:3::1")),
            limit_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(limit_key(ip("::1")), "::/64");
    }

    #[test]
    fn bad_proxy_setting_names_the_variable() {
        let err = TrustedProxies::parse(&["not-an-ip".into()]).err();
        assert!(err.is_some_and(|e| e.to_string().contains("TRUSTED_PROXIES")));
    }
}
