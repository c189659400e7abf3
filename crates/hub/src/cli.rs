//! `kiosk hub` and `capture-hub`: run the collection hub, or administer its data folder (kiosks,
//! reviewers, rosters and which kiosks read them, the retention purge) from the machine it runs on.

use crate::config::{self, HubFile};
use crate::db::retention::{PurgeReason, RetentionPolicy};
use crate::tls::server_config;
use crate::{serve, serve_tls, Hub, HubConfig};
use anyhow::{bail, Context, Result};
use capture_core::roster::{parse_roster_csv, roster_text, seal_secrets};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A roster of every candidate of a province is a few MB; anything far larger is not one.
const LARGEST_ROSTER: u64 = 32 << 20;

/// Logs go to stderr (journald under systemd), one structured line per event, the variable
/// `level_var` choosing the level (e.g. `HUB_LOG=debug`). A write that fails (a full log disk, a
/// closed pipe) is dropped, never a panic: the record being committed matters more than its log
/// line. Both binaries, `kiosk` and `capture-hub`, set their logs up here.
pub fn init_logging(level_var: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env(level_var).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        // its fallback for a failed write is eprintln!, which panics on the same full disk
        .log_internal_errors(false)
        .try_init();
}

/// One line on standard output (a closed pipe is not an error worth a panic).
fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct HubArgs {
    /// The site's settings (hub.toml); default /etc/capture-hub/hub.toml when it exists.
    /// Flags given here override the file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (use a TLS-terminating proxy in front for other machines)
    /// [default: 127.0.0.1:8600].
    #[arg(long)]
    listen: Option<String>,
    /// The hub's data folder: hub.sqlite and photos/ [default: hub-data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Serve https with this PEM certificate chain (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mark login cookies Secure (set automatically with --tls-cert; use it behind an https proxy).
    #[arg(long)]
    secure_cookies: bool,
    /// Largest request accepted, in MiB [default: 8].
    #[arg(long)]
    max_request_mib: Option<usize>,
    /// Free disk the hub keeps for its database and logs, in MiB: below it, kiosks are told
    /// to keep their records and retry later [default: 512; 0 turns the reserve off].
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=crate::config::MAX_DISK_RESERVE_MIB))]
    disk_reserve_mib: Option<u64>,
    /// Keep photos in an S3-compatible bucket, s3://BUCKET[/PREFIX], instead of the data
    /// folder; endpoint, region and keys from AWS_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY (AWS_ALLOW_HTTP=true for a bucket on loopback).
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]")]
    objects: Option<String>,
    /// The key photos are sealed with at rest: a file of 64 hex digits readable only by the
    /// hub's user, best kept off the data disk (or the systemd credential sealing-key). Every
    /// replica sharing a bucket needs the same one [default: sealing.key in the data folder,
    /// made at first start; required with --objects].
    #[arg(long, value_name = "FILE")]
    sealing_key: Option<PathBuf>,
    /// Keep records, kiosks, reviewers, sessions and rosters in this PostgreSQL database,
    /// shared by every replica, instead of hub.sqlite in the data folder:
    /// postgres://USER@HOST:PORT/DB, or postgres://USER@localhost/DB?host=/SOCKET/DIR. The
    /// password never goes here: HUB_DATABASE_PASSWORD or --database-password-file.
    #[arg(long, value_name = "postgres://USER@HOST:PORT/DB")]
    database: Option<String>,
    /// A file holding the PostgreSQL password (one line), readable only by the hub's user.
    #[arg(long, value_name = "FILE")]
    database_password_file: Option<PathBuf>,
    /// The database server's CA certificate (PEM): connections are then TLS, the server
    /// verified against it. Needed for a database that is not on this machine.
    #[arg(long, value_name = "PEM")]
    database_ca: Option<PathBuf>,
    /// A load balancer in front of the replicas whose connections begin with a PROXY
    /// protocol header (HAProxy's send-proxy, nginx's proxy_protocol): its clients' addresses
    /// then count for the per-address limits. Repeat for each balancer.
    #[arg(long = "trusted-proxy", value_name = "ADDR")]
    trusted_proxies: Vec<std::net::IpAddr>,
    #[command(subcommand)]
    admin: Option<HubAdmin>,
}

#[derive(Subcommand)]
enum HubAdmin {
    /// Register a kiosk and print its token (shown only this once).
    AddKiosk {
        #[arg(long)]
        name: String,
    },
    /// Revoke a kiosk's token (a lost or retired kiosk).
    RevokeKiosk {
        #[arg(long)]
        name: String,
    },
    /// Add a reviewer or reset their password (which logs them out everywhere); the password
    /// is read from standard input.
    AddReviewer {
        #[arg(long)]
        user: String,
        /// May register kiosks and import rosters.
        #[arg(long)]
        admin: bool,
    },
    /// Add a staff login for the collection-day dashboard (counts only: no photos, names or
    /// review), or reset its password (which logs it out everywhere); the password is read
    /// from standard input. A reviewer of that name becomes staff.
    AddStaff {
        #[arg(long)]
        user: String,
    },
    /// Remove a reviewer or staff login and end its sessions (past decisions keep the name).
    #[command(visible_alias = "remove-staff")]
    RemoveReviewer {
        #[arg(long)]
        user: String,
    },
    /// Let a kiosk read a batch's roster (kiosks read only the batches assigned to them).
    AssignBatch {
        #[arg(long)]
        kiosk: String,
        #[arg(long)]
        batch: String,
    },
    /// Take a batch's roster away from a kiosk.
    UnassignBatch {
        #[arg(long)]
        kiosk: String,
        #[arg(long)]
        batch: String,
    },
    /// Replace a batch's roster from a CSV file (columns candidate_key/考生号, name/姓名,
    /// id_number/身份证号, optional ethnicity/民族, address/住址, phone/电话,
    /// password_sha256/密码摘要, which is stored only sealed with argon2id).
    ImportRoster {
        #[arg(long)]
        batch: String,
        /// Kiosks (by name) that may read this batch's roster; repeat for several.
        #[arg(long = "kiosk")]
        kiosks: Vec<String>,
        file: PathBuf,
    },
    /// Delete the photos and personal data the retention policy says are due, and say what
    /// went (counts and record ids). Run it daily, e.g. from a systemd timer.
    Purge {
        /// Withdrawn records, this many days after they were withdrawn [default: 0, or
        /// hub.toml's retention.withdrawn_days].
        #[arg(long)]
        withdrawn_days: Option<u32>,
        /// Rejected records the candidate replaced with a newer one, this many days after
        /// the rejection [default: 7, or retention.replaced_days].
        #[arg(long)]
        replaced_days: Option<u32>,
        /// Every decided record (approved or rejected), this many days after the decision;
        /// without it (or retention.decided_days) decided records are kept.
        #[arg(long)]
        decided_days: Option<u32>,
    },
    /// After a kiosk or its token was stolen: withdraw and purge what it sent in the last
    /// HOURS that no reviewer has decided, and say what went. The order is revoke-kiosk, this,
    /// then relink-kiosk if the kiosk itself is back. The genuine candidates' undecided records
    /// in the window go too (nothing tells them from the thief's): they are photographed
    /// again. Decided and older records stay for a person to judge.
    PurgeKiosk {
        /// The kiosk's name, as registered with add-kiosk.
        #[arg(long)]
        name: String,
        /// How far back: its uploads received in the last HOURS (1 to 8760).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=8760))]
        hours: u32,
    },
    /// Record counts by review state.
    Status,
    /// Give a registered kiosk a new token (printed once; the old one stops working). The
    /// kiosk keeps its id, so the records it already sent stay its own: replays, review
    /// results and withdrawals go on after `kiosk queue link` with the new token.
    RelinkKiosk {
        #[arg(long)]
        name: String,
    },
    /// One kiosk registered twice (it was given a new registration instead of a new token):
    /// move the old registration's records to the new one and revoke the old registration.
    MoveRecords {
        /// The old registration's name.
        #[arg(long)]
        from: String,
        /// The registration the kiosk uses now.
        #[arg(long)]
        to: String,
    },
}

pub fn run(mut a: HubArgs) -> Result<ExitCode> {
    let file = HubFile::load(
        a.config.as_deref(),
        std::path::Path::new(config::DEFAULT_PATH),
    )?;
    // the command line first, then hub.toml, then the built-in defaults
    let listen = a
        .listen
        .take()
        .or(file.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8600".to_owned());
    let data = a
        .data
        .take()
        .or(file.data.clone())
        .unwrap_or_else(|| PathBuf::from("hub-data"));
    if a.tls_cert.is_none() {
        if let Some(tls) = &file.tls {
            a.tls_cert = Some(tls.cert.clone());
            a.tls_key = Some(tls.key.clone());
        }
    }
    let objects = a.objects.take().or(file.objects.clone());
    let mut config = HubConfig::new(data.clone());
    config.secure_cookies =
        a.secure_cookies || file.secure_cookies == Some(true) || a.tls_cert.is_some();
    // reviewers' passwords and cookies and candidates' photos must not cross a network in
    // clear: beyond this machine the hub serves https itself, or is told a proxy does
    if !config.secure_cookies && !loopback_only(&listen) {
        bail!(
            "{listen} is reachable from other machines, and the hub would answer there in plain http: \
             give it a certificate (--tls-cert/--tls-key, or [tls] in hub.toml), or put an https \
             proxy in front and say so with --secure-cookies, or listen on 127.0.0.1"
        );
    }
    config.max_body_bytes = a
        .max_request_mib
        .or(file.max_request_mib)
        .unwrap_or(8)
        .clamp(1, 256)
        << 20;
    if let Some(mib) = a.disk_reserve_mib.or(file.disk_reserve_mib) {
        config.disk_reserve_bytes = mib << 20;
    }
    if let Some(address) = &objects {
        config.photos = crate::PhotoStorage::Bucket(crate::BucketSettings::from_env(address));
    }
    config.sealing_key =
        crate::sealing::SealingKeySource::choose(a.sealing_key.take().or(file.sealing_key.clone()));
    config.sweep_at_open = a.admin.is_none();
    config.trusted_proxies = if a.trusted_proxies.is_empty() {
        file.trusted_proxies.clone().unwrap_or_default()
    } else {
        std::mem::take(&mut a.trusted_proxies)
    };
    if let Some(url) = a.database.take().or(file.database.clone()) {
        let password_file = a
            .database_password_file
            .take()
            .or(file.database_password_file.clone());
        let ca = a.database_ca.take().or(file.database_ca.clone());
        config.database = crate::RecordStorage::Postgres(crate::PgSettings::with_ca(
            &url,
            password_file.as_deref(),
            ca.as_deref(),
        )?);
    }
    let hub = Hub::open(config)
        .with_context(|| format!("opening the hub's data folder {}", data.display()))?;
    match a.admin {
        None => {
            if hub.config().sealing_key == crate::sealing::SealingKeySource::DataFolder {
                // a backup or a stolen copy of the folder carries the key with what it seals
                tracing::warn!(target: "hub", "the sealing key is kept in the data folder: a copy of the folder opens the photos and names in it; keep the key apart (--sealing-key FILE on another disk, or the systemd credential sealing-key)");
            }
            crate::process::prepare(hub.config().connections.max_connections);
            // blocking work (SQLite, disk, decodes, hashes) is bounded elsewhere; fewer threads
            // also keep the allocator's per-thread arenas, and so the memory, small
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .max_blocking_threads(32)
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                let addr = listener.local_addr()?;
                // the first line tells scripts and tests the port (with --listen 127.0.0.1:0)
                match (&a.tls_cert, &a.tls_key) {
                    (Some(cert), Some(key)) => {
                        let tls = server_config(cert, key)?;
                        say(format!("hub listening on https://{addr}"));
                        serve_tls(listener, tls, hub, shutdown_signal()).await?;
                    }
                    _ => {
                        say(format!("hub listening on http://{addr}"));
                        serve(listener, hub, shutdown_signal()).await?;
                    }
                }
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::AddKiosk { name }) => {
            if name.trim().is_empty()
                || name.trim().chars().count() > 64
                || name.chars().any(capture_core::hub_protocol::is_unsafe_char)
            {
                bail!("a kiosk name is 1–64 characters with no control or invisible format characters");
            }
            let (id, token) = hub
                .db()
                .add_kiosk(name.trim())
                .context("registering the kiosk (is the name already taken?)")?;
            say(format!(
                "kiosk {id} ({name}) registered; its token, shown only now:"
            ));
            say(token);
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::RevokeKiosk { name }) => {
            if !hub.db().revoke_kiosk(&name)? {
                bail!("no active kiosk named {name:?}");
            }
            say(format!("kiosk {name} revoked"));
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::AddReviewer { user, admin }) => {
            login_name(&user)?;
            let password = read_password()?;
            let password = password.as_str();
            let user = user.trim();
            let ended = hub.db().session_count(user)?;
            hub.db().add_reviewer(user, password, admin)?;
            say(format!(
                "reviewer {user} set{}{}",
                if admin { " (administrator)" } else { "" },
                if ended > 0 {
                    format!("; {ended} open sessions ended")
                } else {
                    String::new()
                }
            ));
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::AddStaff { user }) => {
            login_name(&user)?;
            let password = read_password()?;
            let user = user.trim();
            let ended = hub.db().session_count(user)?;
            hub.db().add_staff(user, &password)?;
            say(format!(
                "staff login {user} set (the dashboard only){}",
                if ended > 0 {
                    format!("; {ended} open sessions ended")
                } else {
                    String::new()
                }
            ));
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::RemoveReviewer { user }) => {
            let user = user.trim();
            let ended = hub.db().session_count(user)?;
            if !hub.db().remove_reviewer(user)? {
                bail!("no reviewer or staff login named {user:?}");
            }
            say(format!(
                "reviewer {user} removed; {ended} open sessions ended"
            ));
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::AssignBatch { kiosk, batch }) => {
            if !hub.db().assign_batch(&kiosk, &batch)? {
                bail!("no active kiosk named {kiosk:?}");
            }
            say(format!(
                "kiosk {kiosk} may read the roster of batch {batch}"
            ));
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::UnassignBatch { kiosk, batch }) => {
            if !hub.db().unassign_batch(&kiosk, &batch)? {
                bail!("kiosk {kiosk:?} is not assigned batch {batch:?}");
            }
            say(format!("kiosk {kiosk} no longer reads batch {batch}"));
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::ImportRoster {
            batch,
            kiosks,
            file,
        }) => {
            let bytes = capture_store::read_at_most(&file, LARGEST_ROSTER)
                .with_context(|| format!("reading {}", file.display()))?;
            let text = roster_text(&bytes).with_context(|| format!("{}", file.display()))?;
            let mut rows =
                parse_roster_csv(&text).with_context(|| format!("{}", file.display()))?;
            // before the database is touched: about 20 ms per password, on every core
            seal_secrets(&mut rows)?;
            // every kiosk named must exist before anything changes
            for k in &kiosks {
                if hub.db().active_kiosk_id(k)?.is_none() {
                    bail!("no active kiosk named {k:?}; nothing was imported");
                }
            }
            for k in &kiosks {
                hub.db().assign_batch(k, &batch)?;
            }
            hub.db().replace_roster(&batch, &rows, "command line")?;
            say(format!("batch {batch}: {} candidates imported", rows.len()));
            if !kiosks.is_empty() {
                say(format!("readable by kiosks {}", kiosks.join(", ")));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::Purge {
            withdrawn_days,
            replaced_days,
            decided_days,
        }) => {
            let day = |d: u32| std::time::Duration::from_secs(u64::from(d) * 86_400);
            let kept = file.retention.clone().unwrap_or_default();
            let policy = RetentionPolicy {
                withdrawn_after: day(withdrawn_days.or(kept.withdrawn_days).unwrap_or(0)),
                replaced_after: day(replaced_days.or(kept.replaced_days).unwrap_or(7)),
                decided_after: decided_days.or(kept.decided_days).map(day),
            };
            let report = hub.purge(&policy, capture_store::now_ms())?;
            say(format!(
                "purged {} records ({} withdrawn, {} replaced, {} decided); {} files removed{}",
                report.records.len(),
                report.count(PurgeReason::Withdrawn),
                report.count(PurgeReason::Replaced),
                report.count(PurgeReason::Decided),
                report.files_removed,
                if report.files_missing > 0 {
                    format!(", {} already gone", report.files_missing)
                } else {
                    String::new()
                }
            ));
            if report.leftovers_removed > 0 {
                say(format!(
                    "{} photo files no record names removed (left by a crash over an hour ago)",
                    report.leftovers_removed
                ));
            }
            for r in &report.records {
                say(format!("{} {}", r.reason.as_str(), r.record_id));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::PurgeKiosk { name, hours }) => {
            let now = capture_store::now_ms();
            let since = now - i64::from(hours) * 3_600_000;
            let report = hub.purge_revoked_kiosk(&name, since, now)?;
            say(format!(
                "已撤回并清除采集机 {name} 最近 {hours} 小时内上传、尚未审核的 {0} 条记录，删除 {1} 个文件 / \
                 withdrew and purged {0} undecided records kiosk {name} sent in the last {hours} h; {1} files removed",
                report.records.len(),
                report.files_removed
            ));
            for r in &report.records {
                say(format!("{} {}", r.reason.as_str(), r.record_id));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::Status) => {
            for (state, n) in hub.db().counts()? {
                say(format!("{state}: {n}"));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::RelinkKiosk { name }) => {
            let Some((id, token)) = hub.db().relink_kiosk(name.trim())? else {
                bail!("no kiosk named {name:?} (see kiosk hub add-kiosk)");
            };
            say(format!(
                "kiosk {id} ({name}) has a new token, shown only now; its old token no longer works:"
            ));
            say(token);
            Ok(ExitCode::SUCCESS)
        }
        Some(HubAdmin::MoveRecords { from, to }) => {
            match hub.db().move_kiosk_records(from.trim(), to.trim())? {
                Ok(n) => say(format!(
                    "{n} records moved from kiosk {from} to kiosk {to}; {from} is revoked"
                )),
                Err(problem) => bail!("{problem}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A login's password, one line from standard input.
fn read_password() -> Result<String> {
    // a password is a line; a file piped in by mistake is refused, not held whole
    let password = capture_store::read_line_at_most(std::io::stdin().lock(), 1024)?;
    let password = password.as_str();
    if password.chars().count() < 8 {
        bail!("密码至少 8 个字符（从标准输入读取） / the password must be at least 8 characters (read from standard input)");
    }
    Ok(password.to_owned())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Whether `listen` names only this machine's loopback. A name that does not resolve is left
/// to the bind to report.
fn loopback_only(listen: &str) -> bool {
    use std::net::ToSocketAddrs;
    match listen.to_socket_addrs() {
        Ok(addrs) => addrs.into_iter().all(|a| a.ip().is_loopback()),
        Err(_) => true,
    }
}

/// A login name the login page will accept: not empty, at most `MAX_LOGIN_NAME_CHARS`.
fn login_name(user: &str) -> Result<()> {
    let n = user.trim().chars().count();
    if n == 0 || n > crate::db::MAX_LOGIN_NAME_CHARS {
        bail!(
            "a login name has 1 to {} characters",
            crate::db::MAX_LOGIN_NAME_CHARS
        );
    }
    Ok(())
}
