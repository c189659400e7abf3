//! `kiosk staff`: setting up a kiosk image's staff side from a terminal (the PIN, the printer,
//! the voice) and reading the audit trail, on the same database the kiosk window uses.

use super::say;
use anyhow::{bail, Result};
use capture_kiosk::kiosk::app::beijing_time;
use capture_kiosk::kiosk::staff::{pin_problem, set_pin, DEFAULT_PIN};
use capture_kiosk::store::AuditAction;
use capture_kiosk::store::Store;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Set the staff PIN, read from standard input (4 to 8 digits, not easy to guess).
    Pin(DbArg),
    /// Set the CUPS print queue for reprints (`--none`: sheets are only saved to prints/).
    Printer(PrinterArgs),
    /// The audit trail, newest first.
    Audit(AuditArgs),
    /// The spoken prompts' volume (0 to 100) and mute; with neither, shows them.
    Voice(VoiceArgs),
}

#[derive(Args)]
pub struct VoiceArgs {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    volume: Option<u8>,
    #[arg(long, conflicts_with = "unmute")]
    mute: bool,
    #[arg(long)]
    unmute: bool,
}

#[derive(Args)]
pub struct DbArg {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
}

#[derive(Args)]
pub struct PrinterArgs {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
    /// The queue name as `lpstat -p` lists it.
    #[arg(required_unless_present = "none", conflicts_with = "none")]
    queue: Option<String>,
    #[arg(long)]
    none: bool,
    /// Sheet layout, e.g. "1in*8+2in*4" or "2in*8".
    #[arg(long)]
    layout: Option<String>,
    /// Where CUPS answers IPP, for the printer's state on the staff screen and the check
    /// before each reprint [default: http://localhost:631].
    #[arg(long)]
    server: Option<String>,
}

#[derive(Args)]
pub struct AuditArgs {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

pub fn run(cmd: StaffCommand, default_db: &Path) -> Result<ExitCode> {
    let db = |d: &Option<PathBuf>| d.clone().unwrap_or_else(|| default_db.to_path_buf());
    match cmd {
        StaffCommand::Pin(a) => {
            let store = Store::open(&db(&a.db))?;
            let pin = capture_kiosk::store::read_line_at_most(std::io::stdin().lock(), 64)?;
            let pin = pin.trim();
            if let Some(problem) = pin_problem(pin, DEFAULT_PIN) {
                bail!(
                    "{}，PIN 未更改 / {}; the PIN was not changed",
                    problem.zh,
                    problem.en
                );
            }
            set_pin(&store, pin)?;
            store.audit("command line", AuditAction::ChangePin, "")?;
            say("the staff PIN is set");
        }
        StaffCommand::Printer(a) => {
            let store = Store::open(&db(&a.db))?;
            if let Some(layout) = &a.layout {
                capture_kiosk::photo::sheet::plan_sheet(layout, "6in", 300)?;
                store.set_setting("print_layout", layout)?;
            }
            if let Some(server) = &a.server {
                store.set_setting("printer_server", server.trim())?;
            }
            let queue = if a.none {
                String::new()
            } else {
                a.queue.unwrap_or_default()
            };
            store.set_setting("printer", &queue)?;
            say(if queue.is_empty() {
                "reprints are saved to the prints folder only".to_string()
            } else {
                format!("reprints go to the print queue {queue}")
            });
        }
        StaffCommand::Voice(a) => {
            use capture_kiosk::kiosk::voice::VoiceSettings;
            let store = Store::open(&db(&a.db))?;
            let mut s = VoiceSettings::from_store(&store)?;
            if let Some(v) = a.volume {
                s.volume = v;
            }
            if a.mute || a.unmute {
                s.muted = a.mute;
            }
            s.save(&store)?;
            say(format!(
                "voice: volume {}{} (the kiosk applies it at its next start)",
                s.volume,
                if s.muted { ", muted" } else { "" }
            ));
        }
        StaffCommand::Audit(a) => {
            let store = Store::open(&db(&a.db))?;
            for e in store.recent_audit(a.limit)? {
                let words = e.words();
                say(format!(
                    "{}  {:<12} {} · {}  {}",
                    beijing_time(e.at_ms),
                    e.staff,
                    words.zh,
                    words.en,
                    e.detail
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
