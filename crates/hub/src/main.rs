//! `capture-hub`: the collection hub for a server, the same as `kiosk hub` (the same options and
//! administration subcommands) without the kiosk's touchscreen toolkit in the build.

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "capture-hub",
    version,
    about = "The collection hub: receives kiosks' uploads, serves review, rosters and status"
)]
struct Cli {
    #[command(flatten)]
    hub: capture_hub::cli::HubArgs,
}

fn main() -> ExitCode {
    // logs to stderr (journald under systemd), `HUB_LOG` choosing the level; a failed log write
    // is dropped, never a panic (a full log disk must not stop the hub)
    let filter = tracing_subscriber::EnvFilter::try_from_env("HUB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .log_internal_errors(false)
        .try_init();
    match capture_hub::cli::run(Cli::parse().hub) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("capture-hub: {e:#}");
            ExitCode::from(2)
        }
    }
}
