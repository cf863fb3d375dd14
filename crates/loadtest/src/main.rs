use std::{process::ExitCode, time::Duration};

use clap::Parser;
use loadtest::{
    cli::{Cli, Command, Common},
    report::Report,
    scenario, summarize,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    watchdog(cli.common.deadline);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Every run is bounded: past the deadline the process ends, whatever it is doing.
fn watchdog(deadline: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(deadline);
        eprintln!("error: the run passed its --deadline of {deadline:?}; stopping");
        std::process::exit(3);
    });
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let common = cli.common;
    let report = match &cli.command {
        Command::Summarize(args) => {
            let suite = summarize::run(args)?;
            print!("{}", suite.verdicts());
            return Ok(());
        }
        Command::VerifySend(args) => scenario::verify::send(&common, args).await?,
        Command::VerifyLogin(args) => scenario::verify::login(&common, args).await?,
        Command::ChatFanout(args) => scenario::fanout::run(&common, args).await?,
        Command::ChatStore(args) => scenario::store::run(&common, args).await?,
        Command::ChatIdle(args) => scenario::idle::run(&common, args).await?,
        Command::ChatQuiet(args) => scenario::quiet::run(&common, args).await?,
    };
    emit(&common, &report)
}

fn emit(common: &Common, report: &Report) -> anyhow::Result<()> {
    let json = report.to_json()?;
    if let Some(path) = &common.out {
        std::fs::write(path, &json)?;
    }
    if common.json {
        eprint!("{}", report.text());
        println!("{json}");
    } else {
        print!("{}", report.text());
    }
    Ok(())
}
