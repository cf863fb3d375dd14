//! The client's IP address, believing `X-Forwarded-For` only from configured proxies.

use std::net::IpAddr;

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
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The socket peer, unless it is a trusted proxy: then the right-most
    /// `X-Forwarded-For` hop that is not itself trusted (left-most entries are
    /// whatever the client chose to write and prove nothing).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = canonical(req.peer_addr()?.ip());
        if !self.trusts(peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .map(canonical)
            .collect();
        Some(
            forwarded
                .iter()
                .rev()
                .copied()
                .find(|ip| !self.trusts(*ip))
                .or_else(|| forwarded.first().copied())
                .unwrap_or(peer),
        )
    }
}

/// `::ffff:1.2.3.4` and `1.2.3.4` are one client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

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
        assert_eq!(
            proxies(&[]).client_ip(&req),
            Some("203.0.113.9".parse().unwrap_or_else(|_| unreachable!()))
        );
    }

    #[test]
    fn trusted_proxy_forwards_the_rightmost_untrusted_hop() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.5:5000".parse().unwrap_or_else(|_| unreachable!()))
            .insert_header(("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.0.0.4"))
            .to_http_request();
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client_ip(&req),
            Some("198.51.100.7".parse().unwrap_or_else(|_| unreachable!()))
        );
    }

    #[test]
    fn bad_proxy_setting_names_the_variable() {
        let err = TrustedProxies::parse(&["not-an-ip".into()]).err();
        assert!(err.is_some_and(|e| e.to_string().contains("TRUSTED_PROXIES")));
    }
}
