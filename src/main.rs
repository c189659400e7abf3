//! The `kiosk` command: the edge where files, the terminal and exit codes meet the core.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // An installed kiosk keeps its models in /usr/share/capture-kiosk/models, which the
    // engine's search (`$KIOSK_MODELS_DIR`, beside the binary, the source tree) does not
    // reach: name it for the engine before any thread starts, unless the caller chose.
    if std::env::var_os("KIOSK_MODELS_DIR").is_none() {
        if let Some(share) = capture_kiosk::kiosk::installed_share_dir() {
            std::env::set_var("KIOSK_MODELS_DIR", share.join("models"));
        }
    }
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
