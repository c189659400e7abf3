//! `kiosk bench-upload`: the upload path's speed on this machine, end to end on loopback: a
//! real hub (its own SQLite and photo files, fsync'd) and the real uploader draining a backlog.

use super::{read_image, say};
use anyhow::{anyhow, Context, Result};
use capture_kiosk::hub::{serve, Hub, HubConfig};
use capture_kiosk::store::{NewCapture, Store};
use capture_kiosk::upload::worker::Step;
use capture_kiosk::upload::{HubClient, HubLink, UploadPolicy, Worker};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchUploadArgs {
    /// Records in the backlog to drain.
    #[arg(long, default_value_t = 10_000)]
    records: usize,
    /// A portrait to send (made into a 480×640 JPEG, the size of a CHSI photo).
    #[arg(long, default_value = "tests/photos/biden.jpg")]
    image: PathBuf,
    /// Scratch folder for the hub's and the kiosk's data (emptied first).
    #[arg(long, default_value = "target/bench-upload")]
    scratch: PathBuf,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn percentile(v: &[f64], p: f64) -> f64 {
    v.get(((v.len() as f64 - 1.0) * p) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

pub fn run(a: BenchUploadArgs) -> Result<ExitCode> {
    let portrait = read_image(&a.image).map_err(|e| anyhow!(e))?;
    let photo = image::imageops::resize(&portrait, 480, 640, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(&photo)?;

    let _ = std::fs::remove_dir_all(&a.scratch);
    std::fs::create_dir_all(&a.scratch)
        .with_context(|| format!("creating {}", a.scratch.display()))?;
    let hub = Hub::open(HubConfig::new(a.scratch.join("hub")))?;
    let (_, token) = hub.db().add_kiosk("bench")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    runtime.spawn(serve(listener, hub, std::future::pending()));

    let db = a.scratch.join("kiosk.sqlite");
    let mut store = Store::open(&db)?;
    say(format!(
        "filling the kiosk's outbox with {} records of {} KB each (durable commits)…",
        a.records,
        jpeg.len() / 1024
    ));
    let progress = indicatif::ProgressBar::new(a.records as u64);
    let fill_started = Instant::now();
    let session = store.start_session("chsi-graduation", "BENCH")?;
    for i in 0..a.records {
        store.submit(&NewCapture {
            session_id: &session,
            profile: "chsi-graduation",
            candidate_key: &format!("cand-{i}"),
            spec: "chsi",
            photo_jpeg: &jpeg,
            check_report_json: r#"{"ok":true,"faces":1,"checks":[]}"#,
            verification_distance: Some(0.3),
            manual_review: false,
            documents: &[],
        })?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    let fill = fill_started.elapsed().as_secs_f64();
    drop(store);

    let link = HubLink {
        url: format!("http://{addr}"),
        token,
        ca_pem: None,
    };
    let mut worker = Worker::new(
        Store::open(&db)?,
        HubClient::new(&link)?,
        UploadPolicy::default(),
    )?;
    say("draining the backlog to the hub on loopback…");
    let progress = indicatif::ProgressBar::new(a.records as u64);
    let mut per_record = Vec::with_capacity(a.records);
    let drain_started = Instant::now();
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    loop {
        let t = Instant::now();
        match client_rt.block_on(worker.step())? {
            Step::Sent => {
                per_record.push(t.elapsed().as_secs_f64() * 1000.0);
                progress.inc(1);
            }
            Step::Idle => break,
            other => {
                return Err(anyhow!(
                    "the drain did not go through: {other:?} ({:?})",
                    worker.last_error
                ))
            }
        }
        if drain_started.elapsed() > Duration::from_secs(3600) {
            return Err(anyhow!("the drain took more than an hour"));
        }
    }
    progress.finish_and_clear();
    let drain = drain_started.elapsed().as_secs_f64();
    let sent = per_record.len();
    let med = median(&mut per_record);
    say("| measure | figure |\n| --- | --- |");
    say(format!(
        "| fill the outbox ({} records) | {fill:.1} s ({:.0} submits/s) |",
        a.records,
        a.records as f64 / fill
    ));
    say(format!(
        "| drain the backlog ({sent} records) | {drain:.1} s |"
    ));
    say(format!(
        "| upload throughput, one kiosk | {:.0} records/s |",
        sent as f64 / drain
    ));
    say(format!(
        "| one upload (send + hub stores + kiosk marks sent) | median {med:.2} ms, p95 {:.2} ms |",
        percentile(&per_record, 0.95)
    ));
    Ok(if sent == a.records {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
