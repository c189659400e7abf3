//! `kiosk bench-fleet`: a province's hub on this machine. Hub replicas (`kiosk hub` processes)
//! share one database (a throwaway PostgreSQL cluster) and one bucket (Moto's S3 server on
//! loopback) behind a round-robin proxy; simulated kiosks, each with its real outbox and
//! uploader, send records with photos through the proxy while one replica is SIGKILLed and
//! restarted (at a third of the records) and PostgreSQL is restarted (at two thirds). At the end the hub's rows
//! and objects are compared with what the kiosks sent: lost, duplicated, unreadable photos and
//! near-duplicates flagged across replicas. Prints records/s, one upload's p50/p95 and each
//! replica's peak memory; exits 1 if a record was lost or duplicated or a photo unreadable.
//!
//! Everything runs in a scratch folder that is removed at the end, and every child process is
//! killed when its guard is dropped, also on an error.

mod kiosks;
mod proxy;
mod services;
mod verify;

use super::say;
use anyhow::{bail, Context, Result};
use capture_kiosk::hub::pg_cluster::ThrowawayCluster;
use capture_kiosk::hub::sealing;
use clap::Args;
/// How `kiosk bench-hub` starts its hub and runs admin commands too.
pub(super) use services::HubCommand;
use services::{Replica, S3Server, Scratch};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BUCKET: &str = "fleet";
const REVIEWER: &str = "fleet-admin";
const PASSWORD: &str = "fleet bench reviewer";

#[derive(Args)]
pub struct BenchFleetArgs {
    /// Hub replicas behind the proxy; without it, one run with 1 replica, then one with 3.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=8))]
    replicas: Option<u8>,
    /// Simulated kiosks, each with its own outbox and uploader thread.
    #[arg(long, default_value_t = 200)]
    kiosks: usize,
    /// Records with photos sent in all (spread evenly over the kiosks).
    #[arg(long, default_value_t = 20_000)]
    records: usize,
    /// A quick check: 10 kiosks and 300 records instead of --kiosks and --records.
    #[arg(long)]
    quick: bool,
    /// Everything stops after this many seconds (what is not done by then counts as lost).
    #[arg(long, default_value_t = 3600)]
    deadline_seconds: u64,
    /// Seconds the killed replica stays down before it is started again.
    #[arg(long, default_value_t = 3)]
    down_seconds: u64,
    /// No replica killed and no database restarted during the run.
    #[arg(long)]
    no_faults: bool,
    /// The database is replica 0's SQLite file instead of PostgreSQL (one replica only).
    #[arg(long)]
    sqlite: bool,
    /// PostgreSQL without durable commits (fsync, synchronous_commit and full_page_writes
    /// off), to see what durability costs; by default every commit is on disk when answered.
    #[arg(long)]
    pg_no_fsync: bool,
    /// Photos fetched through the API and compared with what was sent (0: every one).
    #[arg(long, default_value_t = 1000)]
    photo_sample: usize,
    /// The S3-compatible server to start (Moto, installed by scripts/setup); when it is
    /// missing, photos go to a local folder (one replica only).
    #[arg(long, default_value = "target/moto-venv/bin/moto_server")]
    s3_server: PathBuf,
    /// The hub program (this program by default).
    #[arg(long)]
    hub_binary: Option<PathBuf>,
    /// Where the scratch folder is made [default: the system's temporary folder].
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// Keep the scratch folder (databases, hub logs) for a look afterwards.
    #[arg(long)]
    keep: bool,
    /// Also write every run's figures to this file as JSON (for tests and scripts).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// One run's figures.
#[derive(serde::Serialize)]
struct RunReport {
    replicas: usize,
    seconds: f64,
    sent: u64,
    retried: u64,
    upload_p50: f64,
    upload_p95: f64,
    peaks_mib: Vec<f64>,
    pending_left: i64,
    quarantined: i64,
    findings: verify::Findings,
    faults: Vec<String>,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.findings.clean() && self.pending_left == 0 && self.quarantined == 0
    }
}

pub fn run(mut a: BenchFleetArgs) -> Result<ExitCode> {
    if a.quick {
        a.kiosks = 10;
        a.records = 300;
    }
    if a.kiosks == 0 || a.records == 0 {
        bail!("--kiosks and --records must be at least 1");
    }
    let deadline = Instant::now() + Duration::from_secs(a.deadline_seconds.max(1));
    let counts: Vec<usize> = match a.replicas {
        Some(n) => vec![usize::from(n)],
        None => vec![1, 3],
    };
    let mut reports = Vec::new();
    for replicas in counts {
        if !a.s3_server.is_file() && replicas > 1 {
            say(format!(
                "{replicas} replicas skipped: they need a shared bucket, and {} is missing (scripts/setup installs it)",
                a.s3_server.display()
            ));
            continue;
        }
        if a.sqlite && replicas > 1 {
            say(format!(
                "{replicas} replicas skipped: one SQLite file is one replica's; they need PostgreSQL"
            ));
            continue;
        }
        let report = run_once(&a, replicas, deadline)?;
        print_run(&report);
        reports.push(report);
    }
    if let Some(path) = &a.report {
        let runs: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["passed"] = serde_json::Value::Bool(r.passed());
                v
            })
            .collect();
        std::fs::write(path, serde_json::to_string_pretty(&runs)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let [one, three] = &reports[..] {
        say(format!(
            "\n| replicas | records/s |\n| --- | --- |\n| {} | {:.1} |\n| {} | {:.1} |",
            one.replicas,
            one.sent as f64 / one.seconds,
            three.replicas,
            three.sent as f64 / three.seconds
        ));
    }
    Ok(
        if reports.iter().all(RunReport::passed) && !reports.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

fn run_once(a: &BenchFleetArgs, replicas: usize, deadline: Instant) -> Result<RunReport> {
    let parent = a.scratch.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = Scratch::new(&parent, a.keep)?;
    let s3 = if a.s3_server.is_file() {
        Some(S3Server::start(&a.s3_server, BUCKET)?)
    } else {
        None
    };
    let mut hub = HubCommand {
        binary: match &a.hub_binary {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        },
        shared_args: Vec::new(),
        env: Vec::new(),
    };
    // one sealing key for every replica, as a province's replicas share theirs: each reads
    // what the others sealed
    let keys = scratch.folder("keys")?;
    sealing::SealingKey::load(&sealing::SealingKeySource::DataFolder, &keys)?;
    hub.shared_args = vec![
        "--sealing-key".into(),
        keys.join(sealing::DATA_FOLDER_KEY).into(),
    ];
    if let Some(s3) = &s3 {
        hub.shared_args
            .extend(["--objects".into(), format!("s3://{BUCKET}").into()]);
        hub.env = s3.env();
    }
    let hubs_dir = scratch.folder("hubs")?;
    let cluster = if a.sqlite {
        None
    } else {
        let durable: &[(&str, &str)] = &[
            ("fsync", "on"),
            ("synchronous_commit", "on"),
            ("full_page_writes", "on"),
        ];
        let settings = if a.pg_no_fsync { &[][..] } else { durable };
        let cluster = ThrowawayCluster::start_with(settings)
            .context("starting a throwaway PostgreSQL (scripts/setup installs postgresql; --sqlite runs without it)")?;
        let url = cluster.create_database("fleet")?;
        hub.shared_args.extend(["--database".into(), url.into()]);
        Some(cluster)
    };
    // with SQLite the database is replica 0's file: the admin works on it before it starts
    let admin_data = if cluster.is_some() {
        scratch.folder("admin")?
    } else {
        hubs_dir.join("replica-0")
    };
    hub.admin(
        &admin_data,
        &["add-reviewer", "--user", REVIEWER, "--admin"],
        Some(&format!("{PASSWORD}\n")),
    )?;
    let mut fleet: Vec<Replica> = (0..replicas)
        .map(|n| Replica::start(&hub, &hubs_dir, n))
        .collect::<Result<_>>()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let backends = fleet
        .iter()
        .map(|r| std::net::SocketAddr::from(([127, 0, 0, 1], r.port)))
        .collect();
    let proxy = runtime.block_on(proxy::Proxy::start(backends))?;
    let url = format!("http://{}", proxy.addr);
    say(format!(
        "\n{replicas} hub replica(s) behind {url}; records in {}; photos in {}; {} kiosks, {} records",
        match (&cluster, a.pg_no_fsync) {
            (None, _) => "SQLite",
            (Some(_), false) => "PostgreSQL (durable commits)",
            (Some(_), true) => "PostgreSQL (fsync off)",
        },
        if s3.is_some() {
            "an S3 bucket (Moto)"
        } else {
            "a local folder"
        },
        a.kiosks,
        a.records
    ));
    let reviewer = runtime.block_on(verify::Reviewer::login(&url, REVIEWER, PASSWORD))?;
    let tokens = runtime.block_on(verify::register_kiosks(&reviewer, a.kiosks))?;
    let plan = kiosks::Plan {
        kiosks: a.kiosks,
        records: a.records,
    };
    let filled = Instant::now();
    let (kiosk_list, expected) = kiosks::fill(&scratch.folder("kiosks")?, &plan, &tokens, 8)?;
    say(format!(
        "outboxes filled in {:.0} s ({} near-duplicates of another kiosk's record)",
        filled.elapsed().as_secs_f64(),
        expected.iter().filter(|e| e.copy_of.is_some()).count()
    ));

    let progress = Arc::new(kiosks::Progress::default());
    let started = Instant::now();
    let mut faults = Vec::new();
    let runs = std::thread::scope(|s| -> Result<Vec<kiosks::KioskRun>> {
        let worker = s.spawn(|| kiosks::run_all(&kiosk_list, &url, &progress, deadline));
        let total = a.records as u64;
        let mut killed_at: Option<Instant> = None;
        let mut database_restarted = false;
        let mut sampled = Instant::now();
        while !worker.is_finished() {
            std::thread::sleep(Duration::from_millis(50));
            let sent = progress.sent.load(Ordering::Relaxed);
            if sampled.elapsed() >= Duration::from_secs(1) {
                fleet.iter_mut().for_each(Replica::sample_memory);
                sampled = Instant::now();
            }
            if !a.no_faults && killed_at.is_none() && faults.is_empty() && sent * 3 >= total {
                fleet[0].kill();
                killed_at = Some(Instant::now());
                faults.push(format!(
                    "replica 0 SIGKILLed at {sent} records ({:.1} s)",
                    started.elapsed().as_secs_f64()
                ));
            }
            if let (Some(c), false, false) = (&cluster, a.no_faults, database_restarted) {
                if sent * 3 >= total * 2 {
                    database_restarted = true;
                    let at = Instant::now();
                    c.restart()?;
                    faults.push(format!(
                        "PostgreSQL restarted at {sent} records (down {:.1} s)",
                        at.elapsed().as_secs_f64()
                    ));
                }
            }
            if let Some(at) = killed_at {
                if at.elapsed() >= Duration::from_secs(a.down_seconds) {
                    fleet[0].restart(&hub)?;
                    killed_at = None;
                    faults.push(format!(
                        "replica 0 restarted after {:.1} s down, at {} records",
                        at.elapsed().as_secs_f64(),
                        progress.sent.load(Ordering::Relaxed)
                    ));
                }
            }
        }
        worker
            .join()
            .unwrap_or_else(|_| bail!("the kiosks' thread panicked"))
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(r) = fleet.iter_mut().find(|r| !r.is_up()) {
        // the run ended while it was down: it comes back for the checks
        r.restart(&hub)?;
    }
    fleet.iter_mut().for_each(Replica::sample_memory);

    let bucket = s3.as_ref().map(|s| capture_kiosk::hub::BucketSettings {
        address: format!("s3://{BUCKET}"),
        options: s.env(),
    });
    let objects = verify::object_names(bucket.as_ref(), &admin_data.join("photos"))?;
    let findings = runtime.block_on(verify::verify(
        &reviewer,
        &expected,
        a.photo_sample,
        &objects,
    ))?;
    fleet.iter_mut().for_each(Replica::sample_memory);
    let mut upload_ms: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.upload_ms.iter().copied())
        .collect();
    upload_ms.sort_by(f64::total_cmp);
    if let Some(e) = runs.iter().find_map(|r| r.last_error.clone()) {
        tracing::info!(error = %e, "a kiosk's last upload error");
    }
    let report = RunReport {
        replicas,
        seconds,
        sent: progress.sent.load(Ordering::Relaxed),
        retried: progress.retried.load(Ordering::Relaxed),
        upload_p50: percentile(&upload_ms, 0.5),
        upload_p95: percentile(&upload_ms, 0.95),
        peaks_mib: fleet.iter().map(Replica::peak_mib).collect(),
        pending_left: runs.iter().map(|r| r.pending_left).sum(),
        quarantined: runs.iter().map(|r| r.quarantined).sum(),
        findings,
        faults,
    };
    if !report.passed() {
        for r in &fleet {
            say(format!("hub log: {}", r.log().display()));
        }
    }
    say(format!(
        "proxy: {} connections, {} connects to a down replica skipped, {} refused (no replica up)",
        proxy.counts.connections.load(Ordering::Relaxed),
        proxy.counts.skipped.load(Ordering::Relaxed),
        proxy.counts.refused.load(Ordering::Relaxed)
    ));
    drop(proxy);
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(fleet);
    Ok(report)
}

fn print_run(r: &RunReport) {
    let f = &r.findings;
    for fault in &r.faults {
        say(format!("fault: {fault}"));
    }
    say("| replicas | records/s | stored | lost | duplicated | unexpected | photos read | unreadable | rows without object | orphan objects | near-dups flagged | wrong flags | upload p50 | p95 | retries |");
    say("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    say(format!(
        "| {} | {:.1} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} | {:.1} ms | {:.1} ms | {} |",
        r.replicas,
        r.sent as f64 / r.seconds,
        f.stored,
        f.expected,
        f.lost,
        f.duplicated,
        f.unexpected,
        f.photos_checked,
        f.photos_unreadable,
        f.objects_missing,
        f.objects_orphaned,
        f.near_copies_flagged,
        f.near_copies,
        f.wrong_flags,
        r.upload_p50,
        r.upload_p95,
        r.retried
    ));
    let peaks: Vec<String> = r.peaks_mib.iter().map(|m| format!("{m:.0} MiB")).collect();
    say(format!(
        "peak memory per replica (VmHWM): {}; {:.1} s for {} records; kiosks' outboxes: {} pending, {} quarantined",
        peaks.join(", "),
        r.seconds,
        r.sent,
        r.pending_left,
        r.quarantined
    ));
    if f.photos_read_on_retry > 0 {
        say(format!(
            "{} photo(s) not served on the first read and whole on the second (counted as read)",
            f.photos_read_on_retry
        ));
    }
    for e in &f.examples {
        say(format!("  {e}"));
    }
    say(if r.passed() { "PASS" } else { "FAIL" });
}
