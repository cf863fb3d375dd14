use anyhow::Context;
use platform::{
    env::{self, LogFormat},
    settings::DatabaseSettings,
};
use verification::{config::Config, startup::Application};

/// mimalloc rather than the system allocator: glibc's malloc, free and
/// consolidation were 11 % of the service's samples under verify-login.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One thread for what runs outside the HTTP workers (mail delivery, signals):
/// a multi-thread runtime woke a second idle thread to steal nearly every mail
/// task, a thread switch per mail for no parallelism gained.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    env::load_dotenv();
    platform::telemetry::init(LogFormat::from_env()?, "info");
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => {
            let config = Config::from_env()?;
            let app = Application::build(config).await?;
            app.run_until_stopped(platform::shutdown::signal()).await
        }
        Some("migrate") => {
            let database = DatabaseSettings::from_env()?;
            let applied = platform::database::migrate(&database.url)
                .await
                .context("DATABASE_URL")?;
            tracing::info!(?applied, "migrations applied");
            Ok(())
        }
        Some(other) => {
            anyhow::bail!("unknown command {other:?}; usage: verification [serve|migrate]")
        }
    }
}
