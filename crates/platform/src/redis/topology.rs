//! What `REDIS_URL` names: one Redis, or a Redis Cluster by its seed nodes
//! (`redis+cluster://host:port[,host:port…]`, `rediss+cluster://` for TLS; a
//! `user:password@` before the first node applies to every node).

/// One Redis, or the seed nodes of a cluster (each a plain `redis[s]://` URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    Single(String),
    Cluster(Vec<String>),
}

impl Topology {
    pub fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("redis+cluster://") {
            ("redis", rest)
        } else if let Some(rest) = url.strip_prefix("rediss+cluster://") {
            ("rediss", rest)
        } else {
            return Ok(Self::Single(url.to_owned()));
        };
        let (auth, hosts) = match rest.rsplit_once('@') {
            Some((auth, hosts)) => (Some(auth), hosts),
            None => (None, rest),
        };
        let hosts = hosts.trim_end_matches('/');
        let nodes: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|host| match auth {
                Some(auth) => format!("{scheme}://{auth}@{host}"),
                None => format!("{scheme}://{host}"),
            })
            .collect();
        if nodes.is_empty() {
            return Err("a cluster URL names at least one host:port".into());
        }
        for node in &nodes {
            if node.contains('/') && node.rsplit_once("//").is_some_and(|(_, h)| h.contains('/')) {
                return Err(
                    "a cluster URL has no database path (a cluster has only database 0)".into(),
                );
            }
            redis::Client::open(node.as_str()).map_err(|e| format!("{node}: {e}"))?;
        }
        Ok(Self::Cluster(nodes))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn single_urls_pass_through_and_cluster_urls_list_their_seeds() {
        assert_eq!(
            Topology::parse("redis://127.0.0.1:6379").unwrap(),
            Topology::Single("redis://127.0.0.1:6379".into())
        );
        assert_eq!(
            Topology::parse("redis+cluster://a:7000,b:7001").unwrap(),
            Topology::Cluster(vec!["redis://a:7000".into(), "redis://b:7001".into()])
        );
        assert_eq!(
            Topology::parse("rediss+cluster://u:p@a:7000,b:7001/").unwrap(),
            Topology::Cluster(vec![
                "rediss://u:p@a:7000".into(),
                "rediss://u:p@b:7001".into()
            ])
        );
        assert!(Topology::parse("redis+cluster://").is_err());
        assert!(Topology::parse("redis+cluster://a:7000/3").is_err());
    }
}
