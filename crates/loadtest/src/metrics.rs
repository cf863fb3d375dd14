//! Reading a service's Prometheus `/metrics` page.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::net::{self, Endpoint};

/// Each sample name (labels dropped) with its values summed.
pub fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        *out.entry(line[..name_end].to_owned()).or_insert(0.0) += value;
    }
    out
}

/// Fetches and parses `GET /metrics` of `endpoint`.
pub async fn scrape(endpoint: &Endpoint) -> anyhow::Result<BTreeMap<String, f64>> {
    let stream = net::connect(std::net::IpAddr::from([0, 0, 0, 0]), endpoint.addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::get("/metrics")
        .header(hyper::header::HOST, &endpoint.authority)
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if !response.status().is_success() {
        bail!("/metrics answered {}", response.status());
    }
    let body = response.into_body().collect().await?.to_bytes();
    Ok(parse(
        std::str::from_utf8(&body).context("/metrics is not UTF-8")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_sum_over_labels() {
        let text = "# HELP x\n# TYPE chat_store_batch_size histogram\nchat_store_batch_size_bucket{le=\"1\"} 3\nchat_store_batch_size_sum 120\nchat_store_batch_size_count 10\nreqs{route=\"/a\"} 2\nreqs{route=\"/b\"} 5\n";
        let m = parse(text);
        assert_eq!(m.get("chat_store_batch_size_sum"), Some(&120.0));
        assert_eq!(m.get("chat_store_batch_size_count"), Some(&10.0));
        assert_eq!(m.get("reqs"), Some(&7.0));
    }
}
