//! `chat` serves; `chat migrate` applies pending migrations and exits.

use anyhow::Context;
use chat::{Application, Config};
use platform::env::{LogFormat, load_dotenv};

// The system allocator, not mimalloc (which the verification service uses):
// a chat replica's scale is its idle sockets, and with mimalloc each idle
// socket cost 30.8 KiB of RSS instead of 21.8 (the empty process 36 MiB
// instead of 17; `make bench` chat-idle, 19,800 sockets). mimalloc saved some
// of the 5–6 % of fan-out samples glibc's malloc and free take; its
// `arena_eager_commit=0` option brought the memory back, but it is read when
// the first arena is made, before `main` could set it.

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
