//! `verify-send` and `verify-login`: stepped open-loop load on the verification
//! service, mail to the built-in SMTP receiver, then a run at half the highest
//! rate that kept up.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde_json::json;
use tokio::{task::JoinSet, time::Instant};

use super::Ramp;
use crate::{
    cli::{Common, VerifyArgs},
    cpu::{self, CpuWatch},
    http::HttpPool,
    net::Spread,
    pacing::{self, Schedule, Slots},
    report::{Report, Step},
    smtp::SmtpReceiver,
    stats::{Shared, Stats},
    targets, tokens,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One `POST /v1/verification/send` per slot.
    Send,
    /// Send, wait for the code, confirm.
    Login,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Send => "verify-send",
            Self::Login => "verify-login",
        }
    }

    /// The latency a step is judged by.
    fn primary(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Login => "login",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Self::Send => "request",
            Self::Login => "login",
        }
    }

    fn defaults(self) -> Ramp {
        match self {
            Self::Send => Ramp {
                rate: 1000.0,
                step: 1000.0,
                max_rate: 40_000.0,
                duration: Duration::from_secs(5),
                stop_p99_ms: 100.0,
            },
            Self::Login => Ramp {
                rate: 250.0,
                step: 250.0,
                max_rate: 12_000.0,
                duration: Duration::from_secs(5),
                stop_p99_ms: 100.0,
            },
        }
    }
}

struct Ctx {
    kind: Kind,
    cpu: CpuWatch,
    http: HttpPool,
    smtp: SmtpReceiver,
    run: String,
    next_address: AtomicU64,
    timeout: Duration,
}

pub async fn send(common: &Common, args: &VerifyArgs) -> anyhow::Result<Report> {
    run(Kind::Send, common, args).await
}

pub async fn login(common: &Common, args: &VerifyArgs) -> anyhow::Result<Report> {
    run(Kind::Login, common, args).await
}

async fn run(kind: Kind, common: &Common, args: &VerifyArgs) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut report = Report::new(kind.name());
    let ramp = Ramp::from_args(&args.ramp, kind.defaults());
    ramp.describe(&mut report);
    report.setting("connections", args.connections);
    report.setting("replicas", args.url.len());
    let spread = Spread::new(&args.url, &common.source_addrs, common.allow_remote).await?;
    report.setting("source_addrs", spread.sources.len());
    let ctx = Arc::new(Ctx {
        kind,
        cpu: CpuWatch {
            pids: args.cpu_pids.clone(),
            postgres_db: args.cpu_postgres_db.clone(),
        },
        http: HttpPool::open(&spread, args.connections, args.timeout).await?,
        smtp: SmtpReceiver::start(args.smtp_listen).await?,
        run: super::run_id(args.run_id.as_deref()),
        next_address: AtomicU64::new(0),
        timeout: args.timeout,
    });

    let mut best: Option<Step> = None;
    for (n, rate) in ramp.rates().into_iter().enumerate() {
        let step = run_step(&ctx, &(n + 1).to_string(), rate, &ramp, args.mail_drain).await;
        eprintln!("{} step {}: {}", kind.name(), n + 1, brief(&step, kind));
        let kept_up = step.kept_up;
        if kept_up
            && best
                .as_ref()
                .is_none_or(|b| step.achieved_per_sec > b.achieved_per_sec)
        {
            best = Some(step.clone());
        }
        report.steps.push(step);
        if !kept_up {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let sustained = best.as_ref().map_or(0.0, |b| b.achieved_per_sec);
    let (rate_name, rate_target) = match kind {
        Kind::Send => ("sustained requests/s", targets::VERIFY_SEND_PER_SEC),
        Kind::Login => ("sustained logins/s", targets::VERIFY_LOGIN_PER_SEC),
    };
    report.figure(rate_name, sustained, "per s", Some(rate_target));
    if let Some(best) = &best {
        if let Some(l) = best.latency.get(kind.primary()) {
            report.figure(
                &format!("{} p50 at the sustained rate", kind.primary()),
                l.p50_ms,
                "ms",
                None,
            );
            report.figure(
                &format!("{} p99 at the sustained rate", kind.primary()),
                l.p99_ms,
                "ms",
                None,
            );
        }
        if let Some(mails) = best.counts.get("mail_per_sec") {
            #[allow(clippy::cast_precision_loss)]
            report.figure(
                "mails received/s at the sustained rate",
                *mails as f64,
                "per s",
                None,
            );
        }
    } else {
        report.note("no step kept up: lower --rate");
    }

    if !args.no_half_load && sustained > 0.0 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let half = run_step(
            &ctx,
            "half",
            (sustained / 2.0).floor(),
            &ramp,
            args.mail_drain,
        )
        .await;
        eprintln!("{} half load: {}", kind.name(), brief(&half, kind));
        for (name, us) in cpu_figures(&half) {
            let target = match name {
                "verification" => Some(targets::VERIFY_LOGIN_SERVICE_CPU_US),
                "redis" => Some(targets::VERIFY_LOGIN_REDIS_CPU_US),
                _ => None,
            };
            #[allow(clippy::cast_precision_loss)]
            report.figure(
                &format!("{name} CPU per {} at half load", ctx.kind.unit()),
                us as f64,
                "µs",
                target,
            );
        }
        for name in ["send", "confirm"] {
            if let Some(l) = half.latency.get(name) {
                report.figure(&format!("{name} p50 at half load"), l.p50_ms, "ms", None);
                report.figure(
                    &format!("{name} p99 at half load"),
                    l.p99_ms,
                    "ms",
                    Some(targets::HALF_LOAD_P99_MS),
                );
            }
        }
        if let Some(l) = half.latency.get("login") {
            report.figure(
                "whole login p99 at half load (send, mail, confirm)",
                l.p99_ms,
                "ms",
                None,
            );
        }
        report.steps.push(half);
    }
    report.note(match kind {
        Kind::Send => "latency counts from each request's scheduled time; a step keeps up when ≥ 95 % of the offered rate completes with no errors, p99 under the stop limit, and the mail queue drained within 3 s of the step",
        Kind::Login => "a login is send → code from the SMTP receiver → confirm; its latency counts from the scheduled time; the confirm's from the moment the code arrived",
    });
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

fn brief(step: &Step, kind: Kind) -> String {
    let p99 = step.latency.get(kind.primary()).map_or(0.0, |l| l.p99_ms);
    format!(
        "offered {:.0}/s achieved {:.0}/s p99 {p99:.2} ms {:?} kept up: {}",
        step.offered_per_sec, step.achieved_per_sec, step.counts, step.kept_up
    )
}

async fn run_step(
    ctx: &Arc<Ctx>,
    label: &str,
    rate: f64,
    ramp: &Ramp,
    mail_drain: Duration,
) -> Step {
    let stats = Arc::new(Shared::default());
    let mails_before = ctx.smtp.mails();
    let schedule = Schedule::new(
        Instant::now() + Duration::from_millis(5),
        rate,
        ramp.duration,
    );
    let slots = Slots::new(schedule);
    let cpu_before = ctx.cpu.sample();
    let mut tasks = JoinSet::new();
    while let Some((i, due)) = slots.claim() {
        pacing::wait_until(due).await;
        let origin = pacing::origin(due, Instant::now());
        let (ctx, stats) = (Arc::clone(ctx), Arc::clone(&stats));
        tasks.spawn(async move { one(&ctx, &stats, i, origin).await });
        while tasks.try_join_next().is_some() {}
    }
    let finished = tokio::time::timeout(ctx.timeout * 2 + Duration::from_secs(2), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    let unfinished = tasks.len() as u64;
    tasks.abort_all();
    let done = Instant::now();
    let cpu_after = ctx.cpu.sample();
    let mut all: Stats = stats.take();
    if finished.is_err() {
        all.add("unfinished", unfinished);
    }
    let done_ok = all.count("ok").max(1);
    for (name, used) in cpu::used(&cpu_before, &cpu_after) {
        all.add(&format!("{CPU_PREFIX}{name}"), used / done_ok);
    }
    let elapsed = (done - schedule.start())
        .as_secs_f64()
        .max(ramp.duration.as_secs_f64());
    let ok = all.count("ok");
    #[allow(clippy::cast_precision_loss)]
    let achieved = ok as f64 / elapsed;

    // Every accepted send is a mail; a step keeps up only if the mail does too.
    let expected_mails = all.count("mails_expected");
    let mail_deadline = done + mail_drain;
    while ctx.smtp.mails() - mails_before < expected_mails && Instant::now() < mail_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mails = ctx.smtp.mails() - mails_before;
    let drained = Instant::now();
    let mail_lag = drained - done;
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let mail_per_sec = (mails as f64 / (drained - schedule.start()).as_secs_f64()) as u64;
    all.add("mails", mails);
    all.add("mail_per_sec", mail_per_sec);
    all.add(
        "mail_drain_ms",
        u64::try_from(mail_lag.as_millis()).unwrap_or(u64::MAX),
    );
    let errors: u64 = all
        .counts
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "ok" | "mails" | "mails_expected" | "mail_per_sec" | "mail_drain_ms"
            ) && !k.starts_with(CPU_PREFIX)
        })
        .map(|(_, v)| v)
        .sum();
    let p99 = all
        .latency(ctx.kind.primary())
        .map_or(f64::INFINITY, |l| l.quantile_ms(0.99));
    let kept_up = errors == 0
        && achieved >= 0.95 * schedule.rate()
        && p99 <= ramp.stop_p99_ms
        && mails >= expected_mails
        && mail_lag <= Duration::from_secs(3);
    Step {
        label: label.to_owned(),
        variant: None,
        offered_per_sec: schedule.rate(),
        achieved_per_sec: achieved.round(),
        unit: match ctx.kind {
            Kind::Send => "requests".into(),
            Kind::Login => "logins".into(),
        },
        latency: all.summaries(),
        counts: all.counts,
        kept_up,
    }
}

/// Step counts named so carry CPU µs per completed operation of a watched process.
const CPU_PREFIX: &str = "cpu_us_per_op:";

fn cpu_figures(step: &Step) -> Vec<(&str, u64)> {
    step.counts
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(CPU_PREFIX)?, *v)))
        .collect()
}

/// One slot: a send, or a whole login.
async fn one(ctx: &Ctx, stats: &Shared, i: u64, origin: Instant) {
    let n = ctx.next_address.fetch_add(1, Ordering::Relaxed);
    let key = usize::try_from(i).unwrap_or(0);
    match ctx.kind {
        Kind::Send => {
            let email = format!("s{n}-{}@bench.test", ctx.run);
            let body = serde_json::to_vec(&json!({ "email": email })).unwrap_or_default();
            let result = ctx.http.post_json("/v1/verification/send", body).await;
            let latency = origin.elapsed();
            stats.with(key, |s| match result {
                Ok(reply) if reply.status == 202 => {
                    s.record("send", latency);
                    s.add("ok", 1);
                    s.add("mails_expected", 1);
                }
                Ok(reply) => s.add(&format!("status_{}", reply.status), 1),
                Err(_) => s.add("transport_error", 1),
            });
        }
        Kind::Login => {
            let email = format!("l{n}-{}@bench.test", ctx.run);
            let result = tokens::login(&ctx.http, &ctx.smtp, &email, ctx.timeout).await;
            let latency = origin.elapsed();
            stats.with(key, |s| match result {
                Ok((_, times)) => {
                    s.record("login", latency);
                    // The send waited in the queue from its scheduled time too.
                    s.record("send", latency.saturating_sub(times.mail + times.confirm));
                    s.record("mail", times.mail);
                    s.record("confirm", times.confirm);
                    s.add("ok", 1);
                    s.add("mails_expected", 1);
                }
                Err(e) => s.add(classify(&e.to_string()), 1),
            });
        }
    }
}

/// A login failure's kind, for counting.
fn classify(error: &str) -> &str {
    if error.starts_with("no mail") {
        return "mail_timeout";
    }
    for prefix in ["send answered ", "confirm answered "] {
        if let Some(rest) = error.strip_prefix(prefix) {
            let end = prefix.len() + rest.find(':').unwrap_or(rest.len());
            return &error[..end];
        }
    }
    "transport_error"
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn login_failures_are_counted_by_kind() {
        assert_eq!(classify("send answered 429: {...}"), "send answered 429");
        assert_eq!(classify("confirm answered 400: x"), "confirm answered 400");
        assert_eq!(classify("no mail for a@b within 10s"), "mail_timeout");
        assert_eq!(classify("connection reset"), "transport_error");
    }
}
