//! The benchmark scenarios. Each returns a [`Report`](crate::report::Report).

pub mod fanout;
pub mod idle;
pub mod quiet;
pub mod store;
pub mod verify;

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{StreamExt, stream};

use crate::{
    cli::{Common, RampArgs, TokenArgs},
    http::HttpPool,
    net::Spread,
    report::Report,
    smtp::SmtpReceiver,
    tokens::{self, Minter},
    ws::{self, Socket},
};

/// A stepped run with every value settled.
#[derive(Debug, Clone, Copy)]
pub struct Ramp {
    pub rate: f64,
    pub step: f64,
    pub max_rate: f64,
    pub duration: Duration,
    pub stop_p99_ms: f64,
}

impl Ramp {
    pub fn from_args(args: &RampArgs, defaults: Self) -> Self {
        Self {
            rate: args.rate.unwrap_or(defaults.rate),
            step: args.step.unwrap_or(defaults.step),
            max_rate: args.max_rate.unwrap_or(defaults.max_rate),
            duration: args.duration.unwrap_or(defaults.duration),
            stop_p99_ms: args.stop_p99_ms.unwrap_or(defaults.stop_p99_ms),
        }
    }

    pub fn rates(&self) -> Vec<f64> {
        crate::pacing::steps(self.rate, self.step, self.max_rate)
    }

    pub fn describe(&self, report: &mut Report) {
        report.setting("rate", self.rate);
        report.setting("step", self.step);
        report.setting("max_rate", self.max_rate);
        report.setting("step_duration_s", self.duration.as_secs_f64());
        report.setting("stop_p99_ms", self.stop_p99_ms);
    }
}

/// A short label for this run's names (addresses, rooms), unique per run.
pub fn run_id(given: Option<&str>) -> String {
    given.map_or_else(
        || uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
        str::to_owned,
    )
}

/// `ws://host:port` → `http://host:port` (same listener serves both).
pub fn http_url(url: &str) -> String {
    url.strip_prefix("ws://")
        .map_or_else(|| url.to_owned(), |rest| format!("http://{rest}"))
}

/// `n` access tokens: minted with the development key, or through real logins.
pub async fn obtain_tokens(
    args: &TokenArgs,
    common: &Common,
    n: usize,
    run: &str,
) -> anyhow::Result<Vec<String>> {
    if let Some(url) = &args.login_url {
        let spread = Spread::new(
            std::slice::from_ref(url),
            &common.source_addrs,
            common.allow_remote,
        )
        .await?;
        let smtp = SmtpReceiver::start(args.smtp_listen).await?;
        let http = HttpPool::open(&spread, 32, Duration::from_secs(10)).await?;
        let logins = stream::iter(0..n)
            .map(|i| {
                let (http, smtp) = (http.clone(), smtp.clone());
                async move {
                    let email = format!("tok-{run}-{i}@bench.test");
                    tokens::login(&http, &smtp, &email, Duration::from_secs(30))
                        .await
                        .map(|(token, _)| token)
                }
            })
            .buffered(64)
            .collect::<Vec<_>>()
            .await;
        return logins.into_iter().collect();
    }
    let Some(private_key) = &args.private_key else {
        bail!("pass --private-key and --public-keys (development key) or --login-url");
    };
    let minter = Minter::load(
        private_key,
        &args.public_keys,
        &args.issuer,
        &args.audience,
        3600,
    )?;
    (0..n).map(|i| minter.mint(run, i)).collect()
}

/// Opens `paths.len()` sockets, `concurrency` at a time, in order; socket `k` goes
/// to `spread.pick(k)`.
pub async fn open_sockets(
    spread: &Spread,
    paths: Vec<String>,
    concurrency: usize,
) -> anyhow::Result<Vec<Socket>> {
    let opened = stream::iter(paths.into_iter().enumerate())
        .map(|(k, path)| {
            let (endpoint, source) = spread.pick(k);
            let endpoint = endpoint.clone();
            async move {
                ws::connect(source, &endpoint, &path, Duration::from_secs(30))
                    .await
                    .with_context(|| format!("socket {k} to {}", endpoint.authority))
            }
        })
        .buffered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    opened.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls_map_to_http() {
        assert_eq!(http_url("ws://127.0.0.1:8082"), "http://127.0.0.1:8082");
        assert_eq!(http_url("http://x:1"), "http://x:1");
        assert_eq!(run_id(Some("abc")), "abc");
        assert_eq!(run_id(None).len(), 8);
    }
}
