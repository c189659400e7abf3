//! `kiosk queue status`: what is waiting to go to the hub.

use super::say;
use anyhow::Result;
use capture_kiosk::store::{now_ms, Store};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Counts, the oldest waiting record, the last success and the last error.
    Status(StatusArgs),
}

#[derive(Args)]
pub struct StatusArgs {
    /// The kiosk's database.
    #[arg(long, default_value = "kiosk-data/kiosk.sqlite")]
    db: PathBuf,
    #[arg(long)]
    json: bool,
}

fn ago(ms: Option<i64>) -> String {
    match ms {
        Some(t) => format!("{} s ago", (now_ms() - t).max(0) / 1000),
        None => "never".into(),
    }
}

pub fn run(cmd: QueueCommand) -> Result<ExitCode> {
    match cmd {
        QueueCommand::Status(a) => {
            if let Some(dir) = a.db.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let store = match Store::open(&a.db) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("kiosk: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let q = store.queue_status()?;
            if a.json {
                say(serde_json::to_string(&q)?);
            } else {
                say(format!(
                    "待上传 pending {}  已上传 sent {}  隔离 quarantined {}",
                    q.pending, q.sent, q.quarantined
                ));
                say(format!(
                    "oldest pending: {}  last success: {}",
                    ago(q.oldest_pending_ms),
                    ago(q.last_success_ms)
                ));
                if let Some(e) = q.last_error {
                    say(format!("last error: {e}"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
