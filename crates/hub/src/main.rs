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
    capture_hub::cli::init_logging("HUB_LOG");
    match capture_hub::cli::run(Cli::parse().hub) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("capture-hub: {e:#}");
            ExitCode::from(2)
        }
    }
}
