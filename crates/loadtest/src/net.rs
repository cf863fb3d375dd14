//! Where load may go and where it comes from. Targets must be loopback addresses
//! unless `--allow-remote`; connections are spread over the replicas' URLs and
//! over several local source addresses, so one address's ephemeral port range
//! (about 28 000 ports) never caps a run.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
};

use anyhow::{Context, bail};
use tokio::net::{TcpSocket, TcpStream};

/// One replica: what its URL names, resolved once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` as written, for the `Host` header.
    pub authority: String,
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Parses `scheme://host:port[/...]` (http, https-less) and checks the address.
    pub async fn resolve(url: &str, allow_remote: bool) -> anyhow::Result<Self> {
        let (authority, host, port) = split_url(url)?;
        let ip = match host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) if host.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Err(_) if allow_remote => tokio::net::lookup_host((host.as_str(), port))
                .await
                .with_context(|| format!("resolving {host}"))?
                .next()
                .with_context(|| format!("{host} has no address"))?
                .ip(),
            Err(_) => bail!(
                "{url}: only loopback targets (127.0.0.0/8, ::1, localhost) are allowed without --allow-remote"
            ),
        };
        check_target(ip, allow_remote).with_context(|| url.to_owned())?;
        Ok(Self {
            authority,
            addr: SocketAddr::new(ip, port),
        })
    }
}

/// Refuses a non-loopback target unless remote load was asked for.
pub fn check_target(ip: IpAddr, allow_remote: bool) -> anyhow::Result<()> {
    if ip.is_loopback() || allow_remote {
        Ok(())
    } else {
        bail!("{ip} is not a loopback address; pass --allow-remote to send load elsewhere")
    }
}

/// `(authority, host, port)` of a URL; the port defaults by scheme.
fn split_url(url: &str) -> anyhow::Result<(String, String, u16)> {
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("{url}: expected scheme://host:port"))?;
    let default_port = match scheme {
        "http" | "ws" => 80,
        "postgres" | "postgresql" => 5432,
        other => bail!("{url}: unsupported scheme {other} (TLS is not used against loopback)"),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (host, tail) = v6
            .split_once(']')
            .with_context(|| format!("{url}: unclosed ["))?;
        (host, tail.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        bail!("{url}: no host");
    }
    let port = match port {
        Some(p) => p
            .parse()
            .with_context(|| format!("{url}: bad port {p:?}"))?,
        None => default_port,
    };
    Ok((host_port.to_owned(), host.to_owned(), port))
}

/// Source addresses from `127.0.0.1-127.0.0.8` or `127.0.0.2,127.0.0.3` (or both,
/// comma-separated).
pub fn parse_sources(spec: &str) -> anyhow::Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once('-') {
            let a: Ipv4Addr = a.trim().parse().with_context(|| part.to_string())?;
            let b: Ipv4Addr = b.trim().parse().with_context(|| part.to_string())?;
            let (a, b) = (u32::from(a), u32::from(b));
            if b < a || b - a > 4096 {
                bail!("{part}: a range runs upwards and spans at most 4096 addresses");
            }
            out.extend((a..=b).map(|v| IpAddr::V4(Ipv4Addr::from(v))));
        } else {
            out.push(part.parse().with_context(|| part.to_string())?);
        }
    }
    if out.is_empty() {
        bail!("--source-addrs names no address");
    }
    Ok(out)
}

/// The replicas to load and the addresses to load them from. Connection `k` goes
/// to replica `k mod replicas` from source `(k / replicas) mod sources`, so every
/// replica sees every source address.
#[derive(Debug, Clone)]
pub struct Spread {
    pub endpoints: Arc<[Endpoint]>,
    pub sources: Arc<[IpAddr]>,
}

impl Spread {
    pub async fn new(urls: &[String], sources: &str, allow_remote: bool) -> anyhow::Result<Self> {
        if urls.is_empty() {
            bail!("no target URL");
        }
        let mut endpoints = Vec::new();
        for url in urls {
            endpoints.push(Endpoint::resolve(url, allow_remote).await?);
        }
        let mut sources = parse_sources(sources)?;
        // A loopback source cannot reach another machine: drop to the default route.
        if endpoints.iter().any(|e| !e.addr.ip().is_loopback()) {
            sources = vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)];
        }
        Ok(Self {
            endpoints: endpoints.into(),
            sources: sources.into(),
        })
    }

    pub fn pick(&self, k: usize) -> (&Endpoint, IpAddr) {
        let replicas = self.endpoints.len();
        let endpoint = &self.endpoints[k % replicas];
        let source = self.sources[(k / replicas) % self.sources.len()];
        (endpoint, source)
    }
}

/// A TCP connection from `source` (any port) to `target`, without Nagle.
pub async fn connect(source: IpAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if !source.is_unspecified() && source.is_ipv4() == target.is_ipv4() {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let stream = socket.connect(target).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
            .block_on(f)
    }

    #[test]
    fn loopback_targets_are_accepted() {
        for url in [
            "http://127.0.0.1:8081",
            "ws://localhost:8082/ws/chat/",
            "http://[::1]:9000/x",
            "ws://127.0.0.9:1",
        ] {
            assert!(block_on(Endpoint::resolve(url, false)).is_ok(), "{url}");
        }
        let e = block_on(Endpoint::resolve("http://127.0.0.1:8081/v1", false))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.authority, "127.0.0.1:8081");
        assert_eq!(e.addr.port(), 8081);
    }

    #[test]
    fn other_targets_are_refused_without_allow_remote() {
        for url in [
            "http://10.0.0.1:8081",
            "http://192.168.1.5",
            "ws://8.8.8.8:80",
            "http://example.com:8081",
        ] {
            let err = block_on(Endpoint::resolve(url, false));
            assert!(err.is_err(), "{url} was accepted");
        }
        assert!(check_target("10.1.2.3".parse().unwrap_or_else(|_| panic!()), true).is_ok());
    }

    #[test]
    fn source_ranges_expand() {
        let s = parse_sources("127.0.0.2-127.0.0.4, 127.0.0.9").unwrap_or_else(|e| panic!("{e}"));
        let text: Vec<String> = s.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.9"]);
        assert!(parse_sources("127.0.0.9-127.0.0.1").is_err());
        assert!(parse_sources("").is_err());
    }

    #[test]
    fn connections_spread_over_replicas_and_sources() {
        let spread = Spread {
            endpoints: vec![
                Endpoint {
                    authority: "a".into(),
                    addr: "127.0.0.1:1".parse().unwrap_or_else(|_| panic!()),
                },
                Endpoint {
                    authority: "b".into(),
                    addr: "127.0.0.1:2".parse().unwrap_or_else(|_| panic!()),
                },
            ]
            .into(),
            sources: parse_sources("127.0.0.1-127.0.0.3")
                .unwrap_or_else(|e| panic!("{e}"))
                .into(),
        };
        let mut seen = std::collections::HashSet::new();
        for k in 0..6 {
            let (e, s) = spread.pick(k);
            seen.insert((e.authority.clone(), s));
        }
        assert_eq!(seen.len(), 6, "every replica meets every source");
    }
}
