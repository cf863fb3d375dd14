//! `chat` serves; `chat migrate` applies pending migrations and exits.

use anyhow::Context;
use chat::{Application, Config};
use platform::env::{LogFormat, load_dotenv};

/// mimalloc rather than the system allocator: under fan-out the system
/// allocator's paths (malloc, free, consolidation) were 5–6 % of a replica's
/// samples, and more with read receipts and typing mixed in.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    load_dotenv();
    platform::telemetry::init(LogFormat::from_env()?, "info");
    match std::env::args().nth(1).as_deref() {
        None => {
            let config = Config::from_env()?;
            Application::build(config).await?.run_until_stopped().await
        }
        Some("migrate") => {
            let database = platform::settings::DatabaseSettings::from_env()?;
            let applied = platform::database::migrate(&database.url)
                .await
                .context("migrate")?;
            tracing::info!(?applied, "migrations applied");
            Ok(())
        }
        Some(other) => anyhow::bail!("unknown command {other:?}: run `chat` or `chat migrate`"),
    }
}
