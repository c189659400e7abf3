//! The `kiosk` command: the edge where files, the terminal and exit codes meet the core.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    init_logging();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kiosk: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr (journald under systemd), one structured line per event, `KIOSK_LOG`
/// choosing the level (e.g. `KIOSK_LOG=debug`). A write that fails (a full log disk, a closed
/// pipe) is dropped, never a panic: the record being committed matters more than its log line.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("KIOSK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        // its fallback for a failed write is eprintln!, which panics on the same full disk
        .log_internal_errors(false)
        .try_init();
}
