//! Command-line interface.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "loadtest",
    about = "Open-loop load over the chatverify contract, with HDR histograms and JSON reports",
    long_about = "Sends load to the verification and chat services over real sockets. \
                  Targets must be loopback addresses unless --allow-remote is given; \
                  every run stops by itself (--duration per step, --deadline for the process)."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Print the JSON report on standard output (the summary goes to standard error).
    #[arg(long, global = true)]
    pub json: bool,
    /// Also write the JSON report to this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Allow targets that are not loopback addresses.
    #[arg(long, global = true)]
    pub allow_remote: bool,
    /// Local addresses to connect from: a range (127.0.0.1-127.0.0.8) and/or a comma list.
    #[arg(long, global = true, default_value = "127.0.0.1-127.0.0.8")]
    pub source_addrs: String,
    /// Hard limit for the whole process: past it, it exits with status 3.
    #[arg(long, global = true, default_value = "20m", value_parser = duration)]
    pub deadline: Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// POST /v1/verification/send to distinct addresses, stepped up to the sustained rate.
    VerifySend(VerifyArgs),
    /// Send, code from the built-in SMTP receiver, confirm: logins per second.
    VerifyLogin(VerifyArgs),
    /// Sockets over replicas in rooms; open-loop senders stepped up until p99 passes the limit.
    ChatFanout(FanoutArgs),
    /// Senders alone in their rooms, as fast as messages are stored.
    ChatStore(StoreArgs),
    /// Idle authenticated sockets on one replica: server memory per socket, connect rate.
    ChatIdle(IdleArgs),
    /// A lone message to an idle socket on the other replica: its delivery latency.
    ChatQuiet(crate::scenario::quiet::QuietArgs),
    /// Combine scenario reports into the results Markdown, JSON and plot.
    Summarize(SummarizeArgs),
}

/// A stepped open-loop run. Unset values take the scenario's defaults.
#[derive(Debug, Clone, Args)]
pub struct RampArgs {
    /// First offered rate, per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Added to the offered rate at each step.
    #[arg(long)]
    pub step: Option<f64>,
    /// Highest offered rate.
    #[arg(long)]
    pub max_rate: Option<f64>,
    /// How long each step sends.
    #[arg(long, value_parser = duration)]
    pub duration: Option<Duration>,
    /// A step whose p99 passes this many ms ends the ramp.
    #[arg(long)]
    pub stop_p99_ms: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Verification service base URLs (comma-separated for several replicas).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:8081")]
    pub url: Vec<String>,
    /// Where the built-in SMTP receiver listens (the service's MAIL_TRANSPORT points here).
    #[arg(long, default_value = "127.0.0.1:2526")]
    pub smtp_listen: SocketAddr,
    /// HTTP keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    #[command(flatten)]
    pub ramp: RampArgs,
    /// Skip the run at half the sustained rate.
    #[arg(long)]
    pub no_half_load: bool,
    /// How long to wait for outstanding mail after a step.
    #[arg(long, default_value = "20s", value_parser = duration)]
    pub mail_drain: Duration,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub timeout: Duration,
    /// A label that keeps this run's addresses apart from earlier runs'.
    /// Label for this run's names (default: random).
    #[arg(long)]
    pub run_id: Option<String>,
    /// A process whose CPU time is counted per login, as NAME=PID (repeatable).
    #[arg(long = "cpu-pid", value_parser = name_pid)]
    pub cpu_pids: Vec<(String, u32)>,
    /// Also count the CPU of the PostgreSQL backends serving this database.
    #[arg(long)]
    pub cpu_postgres_db: Option<String>,
}

fn name_pid(raw: &str) -> Result<(String, u32), String> {
    let (name, pid) = raw.split_once('=').ok_or("expected NAME=PID")?;
    let pid = pid.parse().map_err(|e| format!("{pid}: {e}"))?;
    Ok((name.to_owned(), pid))
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Ed25519 PKCS#8 private key to mint tokens with (the development key).
    #[arg(long)]
    pub private_key: Option<PathBuf>,
    /// Public keys (SPKI PEM, file stem = kid), comma-separated, as JWT_PUBLIC_KEYS.
    #[arg(long, value_delimiter = ',')]
    pub public_keys: Vec<PathBuf>,
    /// JWT_ISSUER of the services.
    #[arg(long, default_value = "chatverify")]
    pub issuer: String,
    /// JWT_AUDIENCE of the services.
    #[arg(long, default_value = "chatverify")]
    pub audience: String,
    /// Get tokens through this verification service instead of minting them.
    #[arg(long)]
    pub login_url: Option<String>,
    /// SMTP receiver address for --login-url.
    #[arg(long, default_value = "127.0.0.1:2526")]
    pub smtp_listen: SocketAddr,
}

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Chat replica base URLs, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "ws://127.0.0.1:8082")]
    pub url: Vec<String>,
    /// Sockets, spread over the replicas and the rooms.
    #[arg(long, default_value_t = 1000)]
    pub sockets: usize,
    /// Rooms; every room has members on every replica.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    // The ramp's rates are messages per second; each reaches every member of its room.
    #[command(flatten)]
    pub ramp: RampArgs,
    /// After a step, how long to wait for its last deliveries.
    #[arg(long, default_value = "3s", value_parser = duration)]
    pub grace: Duration,
    /// Run every step twice, back to back: alone, and with read markers and
    /// typing mixed in as real clients send them (see `chatter.rs`).
    #[arg(long)]
    pub mixed: bool,
    /// What a mixed step's sockets send beside messages (to see what each costs).
    #[arg(long, value_delimiter = ',', default_value = "read,typing")]
    pub mixed_frames: Vec<MixedFrame>,
    /// The report's scenario name (default: chat-fanout, or chat-fanout-mixed).
    #[arg(long)]
    pub name: Option<String>,
    /// A setting to record in the report, as KEY=VALUE (repeatable), e.g. redis=cluster.
    #[arg(long = "label", value_parser = key_value)]
    pub labels: Vec<(String, String)>,
    /// A process whose CPU time is counted per step, as NAME=PID (repeatable;
    /// pids under one name are summed).
    #[arg(long = "cpu-pid", value_parser = name_pid)]
    pub cpu_pids: Vec<(String, u32)>,
    /// Also count the CPU of the PostgreSQL backends serving this database
    /// (the replicas' message and read-marker writes).
    #[arg(long)]
    pub cpu_postgres_db: Option<String>,
    #[command(flatten)]
    pub tokens: TokenArgs,
    /// Label for this run's names (default: random).
    #[arg(long)]
    pub run_id: Option<String>,
}

/// A frame a mixed step's sockets send beside messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MixedFrame {
    Read,
    Typing,
}

fn key_value(raw: &str) -> Result<(String, String), String> {
    let (key, value) = raw.split_once('=').ok_or("expected KEY=VALUE")?;
    Ok((key.to_owned(), value.to_owned()))
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Chat replica base URLs, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "ws://127.0.0.1:8082")]
    pub url: Vec<String>,
    /// Sockets, each alone in its own room.
    #[arg(long, default_value_t = 200)]
    pub senders: usize,
    /// Messages each sender keeps in flight.
    #[arg(long, default_value_t = 8)]
    pub window: usize,
    /// How long the senders send.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub duration: Duration,
    /// PostgreSQL to count the stored rows in (same database as the chat service).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Read back every Nth acknowledged message at once (it must already be stored).
    #[arg(long, default_value_t = 50)]
    pub check_every: u64,
    #[command(flatten)]
    pub tokens: TokenArgs,
    /// Label for this run's names (default: random).
    #[arg(long)]
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// One chat replica's base URL.
    #[arg(long, default_value = "ws://127.0.0.1:8082")]
    pub url: String,
    /// Sockets to open (default: as many as this process's file limit allows).
    #[arg(long)]
    pub sockets: Option<usize>,
    /// The replica's process id, to read its resident memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Wait before each memory reading.
    #[arg(long, default_value = "3s", value_parser = duration)]
    pub settle: Duration,
    #[command(flatten)]
    pub tokens: TokenArgs,
    /// Label for this run's names (default: random).
    #[arg(long)]
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SummarizeArgs {
    /// Scenario reports (JSON), in the order to show them.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Where to write the results Markdown.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Where to write all reports together as one JSON document.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// PNG of chat-fanout latency percentiles against offered load.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// TrueType font for the plot's text (default: what fc-match finds for sans-serif).
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// A file whose lines describe the machine.
    #[arg(long)]
    pub machine: Option<PathBuf>,
    /// A note to print above the tables (repeatable).
    #[arg(long)]
    pub note: Vec<String>,
    /// The command the results say reproduces them.
    #[arg(long, default_value = "make bench")]
    pub command: String,
}

/// `250ms`, `10s`, `1.5s`, `2m`, or plain seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 500ms, 10s, 2m)"))?;
    if !(value.is_finite() && value >= 0.0) {
        return Err(format!("{text:?} is not a duration"));
    }
    Duration::try_from_secs_f64(value * scale).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("7"), Ok(Duration::from_secs(7)));
        assert!(duration("soon").is_err());
        assert!(duration("-1s").is_err());
    }

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from([
            "loadtest",
            "--json",
            "chat-fanout",
            "--url",
            "ws://127.0.0.1:1,ws://127.0.0.1:2",
            "--rate",
            "500",
            "--duration",
            "5s",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(cli.common.json);
        let Command::ChatFanout(args) = cli.command else {
            panic!("wrong subcommand")
        };
        assert_eq!(args.url.len(), 2);
        assert_eq!(args.ramp.rate, Some(500.0));
        assert_eq!(args.sockets, 1000);
        assert!(!args.mixed);
    }

    #[test]
    fn fanout_variants_take_labels_and_watched_pids() {
        let cli = Cli::try_parse_from([
            "loadtest",
            "chat-fanout",
            "--mixed",
            "--label",
            "redis=cluster",
            "--cpu-pid",
            "redis=10",
            "--cpu-pid",
            "redis=11",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Command::ChatFanout(args) = cli.command else {
            panic!("wrong subcommand")
        };
        assert!(args.mixed);
        assert_eq!(
            args.labels,
            vec![("redis".to_owned(), "cluster".to_owned())]
        );
        assert_eq!(args.cpu_pids.len(), 2);
        assert!(Cli::try_parse_from(["loadtest", "chat-fanout", "--label", "x"]).is_err());
    }
}
