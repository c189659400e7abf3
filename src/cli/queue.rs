//! `kiosk queue`: the upload queue in the kiosk's database: link the kiosk to a hub, see what
//! waits, upload now, requeue what staff fixed, sync a roster.

use super::say;
use anyhow::{bail, Context, Result};
use capture_kiosk::store::AuditAction;
use capture_kiosk::store::{now_ms, Store};
use capture_kiosk::upload::{
    settings, stored_link, stored_retention, HubClient, HubError, HubLink, UploadPolicy, Worker,
};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Counts, the oldest waiting record, the last success and the last error.
    Status(DbArgs),
    /// Link this kiosk to a hub with the token the hub issued.
    Link(LinkArgs),
    /// Upload now; exit 0 when nothing is left to send, 1 if records remain at the timeout.
    Drain(DrainArgs),
    /// The latest records with their upload and review status.
    Show(ShowArgs),
    /// Put a quarantined record back in the queue (after the hub's refusal was dealt with).
    Requeue(RequeueArgs),
    /// Fetch a batch's roster from the hub into this kiosk.
    SyncRoster(SyncArgs),
}

#[derive(Args)]
pub struct DbArgs {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct LinkArgs {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
    /// The hub's address, https:// (plain http only for a hub on this machine).
    #[arg(long)]
    hub: String,
    /// The kiosk token from `kiosk hub add-kiosk`.
    #[arg(long)]
    token: String,
    /// A PEM certificate to trust for the hub (self-signed or a college CA).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Hours the photo stays on the kiosk after the hub confirmed it.
    #[arg(long, default_value_t = 7 * 24)]
    retention_hours: u64,
}

#[derive(Args)]
pub struct DrainArgs {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ShowArgs {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RequeueArgs {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
    /// Staff member doing it (for the audit log).
    #[arg(long)]
    staff: String,
    record: String,
}

#[derive(Args)]
pub struct SyncArgs {
    /// The kiosk's database [default: the data folder's kiosk.sqlite, from kiosk.toml or
    /// kiosk-data/].
    #[arg(long)]
    db: Option<PathBuf>,
    #[arg(long)]
    batch: String,
}

fn ago(ms: Option<i64>) -> String {
    match ms {
        Some(t) => format!("{0} 秒前 / {0} s ago", (now_ms() - t).max(0) / 1000),
        None => "从未 / never".into(),
    }
}

/// Opens the kiosk's database. Only linking a kiosk (a deploy step) makes a new one, in a
/// folder only its user can read (the kiosk refuses to start on any other); every other command
/// refuses a database that is not there, so a mistyped path does not read as "all sent".
fn open(db: &Path, make: bool) -> Result<Store> {
    if !make && !db.exists() {
        bail!(
            "没有数据库 {0}：请检查 --db 路径 / there is no database at {0}: check the --db path \
             (a kiosk's is kiosk-data/kiosk.sqlite where it runs)",
            db.display()
        );
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        capture_store::private_dir(dir)?;
    }
    Ok(Store::open(db)?)
}

fn linked(store: &Store) -> Result<HubLink> {
    stored_link(store)?.context(
        "本机尚未连接汇总服务器，请先运行 `kiosk queue link --hub URL --token TOKEN` / this kiosk is not linked to a hub; run `kiosk queue link --hub URL --token TOKEN` first",
    )
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn run(cmd: QueueCommand, default_db: &Path) -> Result<ExitCode> {
    let db = |d: &Option<PathBuf>| d.clone().unwrap_or_else(|| default_db.to_path_buf());
    match cmd {
        QueueCommand::Status(a) => {
            let store = open(&db(&a.db), false)?;
            let q = store.queue_status()?;
            if a.json {
                say(serde_json::to_string(&q)?);
            } else {
                say(format!(
                    "待上传 pending {}  已上传 sent {}  隔离 quarantined {}",
                    q.pending, q.sent, q.quarantined
                ));
                say(format!(
                    "最早待上传 oldest pending: {}  最近成功 last success: {}",
                    ago(q.oldest_pending_ms),
                    ago(q.last_success_ms)
                ));
                if let Some(e) = q.last_error {
                    say(format!("最近一次错误 last error: {e}"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Link(a) => {
            let ca_pem = match &a.ca {
                Some(p) => {
                    // a CA certificate is a few KB
                    let pem = capture_store::read_at_most(p, 1 << 20)
                        .with_context(|| format!("reading {}", p.display()))?;
                    Some(pem)
                }
                None => None,
            };
            let link = HubLink {
                url: a.hub.clone(),
                token: a.token.clone(),
                ca_pem,
            };
            let client = HubClient::new(&link)?;
            let store = open(&db(&a.db), true)?;
            match runtime()?.block_on(client.whoami()) {
                Ok(me) => say(format!(
                    "已连接 {0}，本机为 {1}（{2}） / linked to {0} as kiosk {1} ({2})",
                    a.hub, me.name, me.kiosk_id
                )),
                Err(HubError::Unreachable(e)) => {
                    say(format!("连接信息已保存，服务器连通后自动开始上传 / the link is saved and uploads start when the hub can be reached\n{}", HubError::Unreachable(e)))
                }
                Err(e) => bail!("{e}"),
            }
            store.set_setting(settings::HUB_URL, &link.url)?;
            store.set_setting(settings::HUB_TOKEN, &link.token)?;
            if let Some(pem) = &link.ca_pem {
                store.set_setting(settings::HUB_CA_PEM, &String::from_utf8_lossy(pem))?;
            }
            store.set_setting(settings::RETENTION_HOURS, &a.retention_hours.to_string())?;
            store.audit("command line", AuditAction::LinkHub, &link.url)?;
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Drain(a) => {
            let store = open(&db(&a.db), false)?;
            let link = linked(&store)?;
            let policy = UploadPolicy {
                retention: stored_retention(&store)?,
                ..UploadPolicy::default()
            };
            let client = HubClient::new(&link)?;
            let mut worker = Worker::new(store, client, policy)?;
            let deadline = Instant::now() + Duration::from_secs(a.timeout);
            let report = runtime()?.block_on(worker.drain(deadline))?;
            if a.json {
                say(serde_json::to_string(&report)?);
            } else {
                say(format!(
                    "已上传 sent {}  隔离 quarantined {}  重试 retried {}  仍待上传 still pending {}  审核结果更新 reviews updated {}  ({:.1} s)",
                    report.sent, report.quarantined, report.retried, report.pending_left, report.reviews_updated, report.seconds
                ));
                if let Some(e) = &report.last_error {
                    say(format!("最近一次错误 last error: {e}"));
                }
            }
            Ok(if report.pending_left == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        QueueCommand::Show(a) => {
            let store = open(&db(&a.db), false)?;
            let rows = store.recent_captures(a.limit)?;
            if a.json {
                let lines: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| serde_json::json!({ "record": r, "status": r.status_line() }))
                    .collect();
                say(serde_json::to_string(&lines)?);
            } else {
                for r in rows {
                    say(format!("{}  {}  {}", r.id, r.profile, r.status_line()));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Requeue(a) => {
            let store = open(&db(&a.db), false)?;
            if !store.requeue(&a.record, now_ms())? {
                bail!(
                    "记录 {0} 不在隔离区（见 `kiosk queue show`） / record {0} is not quarantined (see `kiosk queue show`)",
                    a.record
                );
            }
            store.audit(&a.staff, AuditAction::Requeue, &a.record)?;
            say(format!(
                "记录 {0} 已重新排队上传 / record {0} is queued again",
                a.record
            ));
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::SyncRoster(a) => {
            let mut store = open(&db(&a.db), false)?;
            let client = HubClient::new(&linked(&store)?)?;
            let rows = runtime()?.block_on(client.roster(&a.batch))?;
            if rows.is_empty() {
                bail!(
                    "汇总服务器没有批次 {0} 的名单 / the hub has no roster for batch {0}",
                    a.batch
                );
            }
            store.replace_roster(&a.batch, &rows)?;
            store.audit(
                "command line",
                AuditAction::SyncRoster,
                &format!("{}: {} rows", a.batch, rows.len()),
            )?;
            say(format!(
                "批次 {0}：{1} 人 / batch {0}: {1} candidates",
                a.batch,
                rows.len()
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}
