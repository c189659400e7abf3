//! `kiosk bench-hub`: kiosks uploading to a real hub on loopback, first in quiet, then while
//! strangers attack it cheaply: 32 clients guessing reviewer passwords, 300 connections
//! dribbling headers a byte a second, and (`--bombers`) a stolen kiosk token sending photos
//! that declare 6000×6000 pixels. Prints the kiosks' upload times in both phases and the hub's peak memory.
//!
//! The hub runs as its own process (`--hub-binary`, this program by default), so its memory is
//! its own; attackers connect from other loopback addresses (127.0.x.y), as other machines.

use super::bench_fleet::HubCommand;
use super::say;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchHubArgs {
    /// Seconds of each phase (quiet, then under attack).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Kiosks uploading at full speed, one record after another.
    #[arg(long, default_value_t = 2)]
    kiosks: usize,
    /// Senders with a stolen kiosk token posting photos that declare 6000×6000 pixels.
    #[arg(long, default_value_t = 2)]
    bombers: usize,
    /// The hub program to measure (another build, to compare before and after).
    #[arg(long)]
    hub_binary: Option<PathBuf>,
    /// Scratch folder for the hub's data (emptied first).
    #[arg(long, default_value = "target/bench-hub")]
    scratch: PathBuf,
    /// Keep the hub's records in a throwaway PostgreSQL (started here, durable commits as on
    /// a real server) instead of SQLite, to compare the two engines.
    #[arg(long)]
    postgres: bool,
}

struct HubProcess(Child);

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The peak and current resident memory of `pid`, in MiB (Linux /proc).
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn photo_jpeg(seed: u32) -> Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(480, 640, |x, y| {
        let d =
            ((x as f32 - 240.0).powi(2) / 14400.0 + (y as f32 - 280.0).powi(2) / 32400.0).sqrt();
        if d < 1.0 {
            image::Rgb([205, 160, 140])
        } else {
            image::Rgb([(seed % 200) as u8 + 30, 120, 200])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img)?;
    Ok(out)
}

/// A photo whose header declares 6000×6000 (the pixels stay 480×640).
fn bomb_jpeg() -> Result<Vec<u8>> {
    let mut jpeg = photo_jpeg(7)?;
    let sof = jpeg
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .ok_or_else(|| anyhow!("no SOF0 marker"))?;
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0x17, 0x70, 0x17, 0x70]);
    Ok(jpeg)
}

fn client(from: Option<IpAddr>) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(from)
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

async fn upload(client: &reqwest::Client, url: &str, token: &str, photo: &[u8]) -> Result<u16> {
    let meta = serde_json::json!({
        "key": uuid::Uuid::now_v7().to_string(), "profile": "chsi-graduation", "batch_id": "b1",
        "candidate_key": "BENCH", "spec": "chsi", "captured_at_ms": 1_700_000_000_000i64,
    });
    let form = reqwest::multipart::Form::new()
        .text("metadata", meta.to_string())
        .part(
            "photo",
            reqwest::multipart::Part::bytes(photo.to_vec()).mime_str("image/jpeg")?,
        )
        .text("report", r#"{"ok":true,"checks":[]}"#);
    let r = client
        .post(format!("{url}/api/v1/records"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await?;
    Ok(r.status().as_u16())
}

/// Kiosks uploading one record after another until `stop`; each upload's time in ms.
async fn kiosks(url: &str, tokens: &[String], photo: &[u8], stop: Instant) -> Result<Vec<f64>> {
    let mut tasks = Vec::new();
    for token in tokens {
        let (url, token, photo) = (url.to_owned(), token.clone(), photo.to_vec());
        let client = client(Some(IpAddr::from([127, 0, 0, 1])))?;
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while Instant::now() < stop {
                let t = Instant::now();
                match upload(&client, &url, &token, &photo).await {
                    Ok(201) => times.push(t.elapsed().as_secs_f64() * 1000.0),
                    Ok(status) => return Err(anyhow!("a kiosk's upload was answered {status}")),
                    Err(e) => return Err(anyhow!("a kiosk's upload failed: {e}")),
                }
            }
            Ok(times)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

#[derive(Default)]
struct AttackCounts {
    logins_refused: AtomicU64,
    logins_throttled: AtomicU64,
    dribbles_cut: AtomicU64,
    bombs_refused: AtomicU64,
}

/// Starts the attackers; they run until `running` is cleared.
fn attack(
    url: &str,
    addr: SocketAddr,
    token: &str,
    bombers: usize,
    running: &Arc<AtomicBool>,
    counts: &Arc<AttackCounts>,
) -> Result<()> {
    for n in 0..32u8 {
        let (url, running, counts) = (url.to_owned(), running.clone(), counts.clone());
        let client = client(Some(IpAddr::from([127, 0, 3, n + 1])))?;
        tokio::spawn(async move {
            let mut guess = 0u64;
            while running.load(Ordering::Relaxed) {
                guess += 1;
                let password = format!("guess-{n}-{guess}");
                let r = client
                    .post(format!("{url}/login"))
                    .form(&[("user", "ana"), ("password", password.as_str())])
                    .send()
                    .await;
                match r.map(|r| r.status().as_u16()) {
                    Ok(429) => counts.logins_throttled.fetch_add(1, Ordering::Relaxed),
                    _ => counts.logins_refused.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
    }
    for n in 0..300u16 {
        let (running, counts) = (running.clone(), counts.clone());
        let from = IpAddr::from([127, 0, 4, (n % 10) as u8 + 1]);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while running.load(Ordering::Relaxed) {
                let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
                    return;
                };
                if socket.bind(SocketAddr::new(from, 0)).is_err() {
                    return;
                }
                let Ok(mut stream) = socket.connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let request = b"POST /api/v1/records HTTP/1.1\r\nHost: hub\r\nX-Padding: ";
                let _ = stream.write_all(request).await;
                while running.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if stream.write_all(b"a").await.is_err() {
                        counts.dribbles_cut.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        });
    }
    let bomb = bomb_jpeg()?;
    for _ in 0..bombers {
        let (url, token, running, counts, bomb) = (
            url.to_owned(),
            token.to_owned(),
            running.clone(),
            counts.clone(),
            bomb.clone(),
        );
        let client = client(Some(IpAddr::from([127, 0, 5, 1])))?;
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                if let Ok(s) = upload(&client, &url, &token, &bomb).await {
                    if s >= 400 {
                        counts.bombs_refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    Ok(())
}

fn summary(label: &str, times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let at = |p: f64| {
        times
            .get(((times.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let (median, p95) = (at(0.5), at(0.95));
    say(format!(
        "| {label} | {} | {median:.1} ms | {p95:.1} ms |",
        times.len()
    ));
    (median, p95)
}

pub fn run(a: BenchHubArgs) -> Result<ExitCode> {
    let hub_binary = match a.hub_binary {
        Some(p) => p,
        None => std::env::current_exe()?,
    };
    let _ = std::fs::remove_dir_all(&a.scratch);
    std::fs::create_dir_all(&a.scratch)
        .with_context(|| format!("creating {}", a.scratch.display()))?;
    let data = a.scratch.join("hub");
    // kept until the end: dropping it stops the server
    let cluster = if a.postgres {
        Some(capture_hub::pg_cluster::ThrowawayCluster::start_with(&[
            ("fsync", "on"),
            ("synchronous_commit", "on"),
            ("full_page_writes", "on"),
        ])?)
    } else {
        None
    };
    let database: Vec<String> = match &cluster {
        Some(c) => vec!["--database".into(), c.create_database("bench")?],
        None => Vec::new(),
    };
    let hub_command = HubCommand {
        binary: hub_binary.clone(),
        shared_args: database.iter().map(OsString::from).collect(),
        env: Vec::new(),
    };
    let mut tokens = Vec::new();
    for n in 0..=a.kiosks {
        let out = hub_command.admin(&data, &["add-kiosk", "--name", &format!("k{n}")], None)?;
        tokens.push(
            out.lines()
                .last()
                .ok_or_else(|| anyhow!("no token printed"))?
                .to_owned(),
        );
    }
    let stolen = tokens.pop().ok_or_else(|| anyhow!("no kiosk"))?;
    hub_command.admin(
        &data,
        &["add-reviewer", "--user", "ana"],
        Some("correct horse battery\n"),
    )?;

    let mut child = hub_command
        .command(&data)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", hub_binary.display()))?;
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut first)?;
    }
    let hub = HubProcess(child);
    let url = first
        .trim()
        .strip_prefix("hub listening on ")
        .ok_or_else(|| anyhow!("the hub said {first:?}"))?
        .to_owned();
    let addr: SocketAddr = url.trim_start_matches("http://").parse()?;
    let pid = hub.0.id();
    let photo = photo_jpeg(1)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let phase = Duration::from_secs(a.seconds.max(1));
    say(format!(
        "{} kiosks upload 480×640 photos to {url} for {} s in quiet, then {} s under attack…",
        a.kiosks,
        phase.as_secs(),
        phase.as_secs()
    ));
    let mut quiet = runtime.block_on(kiosks(&url, &tokens, &photo, Instant::now() + phase))?;
    let (quiet_peak, _) = memory_mib(pid);

    let running = Arc::new(AtomicBool::new(true));
    let counts = Arc::new(AttackCounts::default());
    let mut attacked = runtime.block_on(async {
        attack(&url, addr, &stolen, a.bombers, &running, &counts)?;
        // the attackers get two seconds' head start
        tokio::time::sleep(Duration::from_secs(2)).await;
        kiosks(&url, &tokens, &photo, Instant::now() + phase).await
    })?;
    running.store(false, Ordering::Relaxed);
    let (attack_peak, rss) = memory_mib(pid);
    runtime.shutdown_timeout(Duration::from_secs(2));

    say("| phase | uploads | median | p95 |\n| --- | --- | --- | --- |");
    let (_, quiet_p95) = summary("quiet", &mut quiet);
    let (_, attacked_p95) = summary("under attack", &mut attacked);
    say(format!(
        "\np95 under attack is {:.2}× quiet (goal ≤ 2×)",
        attacked_p95 / quiet_p95
    ));
    say(format!(
        "hub memory: peak {quiet_peak:.0} MiB after the quiet phase, {attack_peak:.0} MiB after the attack (goal ≤ 300), {rss:.0} MiB now"
    ));
    say(format!(
        "attackers: {} wrong logins answered, {} throttled (429); {} dribbling connections cut; {} bomb photos refused",
        counts.logins_refused.load(Ordering::Relaxed),
        counts.logins_throttled.load(Ordering::Relaxed),
        counts.dribbles_cut.load(Ordering::Relaxed),
        counts.bombs_refused.load(Ordering::Relaxed),
    ));
    drop(hub);
    drop(cluster);
    Ok(ExitCode::SUCCESS)
}
