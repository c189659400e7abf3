//! The `kiosk` command: the edge where files, the terminal and exit codes meet the core.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `KIOSK_LOG` chooses the level, e.g. `KIOSK_LOG=debug`
    capture_hub::cli::init_logging("KIOSK_LOG");
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kiosk: {e:#}");
            ExitCode::from(2)
        }
    }
}
