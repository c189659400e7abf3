//! Command-line interface. Exit codes: 0 all passed, 1 a check or validation failed,
//! 2 unreadable input or a set-up problem (with a message saying what to do).

mod bench;
mod bench_fleet;
mod bench_hub;
mod bench_live;
mod bench_upload;
mod camera;
mod check;
mod eval;
mod eval_verify;
mod known_distances;
mod parts_map;
mod photo;
mod queue;
mod reader;
mod sheet;
mod staff;
mod table;
mod two_threads;
mod verify;

use anyhow::{bail, Context, Result};
use capture_kiosk::catalog::{Catalog, DataKind};
use capture_kiosk::engine::FaceEngine;
use capture_kiosk::imaging::{decode_image, DecodeLimits};
use capture_kiosk::kiosk::config::{self, KioskConfig};
use clap::{Parser, Subcommand};
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kiosk",
    version,
    about = "Exam ID-photo capture kiosk: checks, photo maker, print sheets"
)]
pub struct Cli {
    /// The site's settings (kiosk.toml); default /etc/capture-kiosk/kiosk.toml when it exists.
    /// Flags given here override the file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Extra specs/ and profiles/ folders to load beside the shipped ones.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run a scripted full session per exam profile with simulated taps and devices, and write
    /// a PNG of every screen to DIR (`<profile>-<nn>-<screen>.png`).
    /// Its data (database, outbox) go to a fresh `DIR/headless-demo-data`, never the kiosk's
    /// own, so every run meets its candidates as new ones.
    #[arg(long, value_name = "DIR")]
    headless_demo: Option<PathBuf>,
    /// With --headless-demo: only this exam profile (repeatable); default all of them.
    #[arg(long = "profile", value_name = "NAME", requires = "headless_demo")]
    demo_profiles: Vec<String>,
    /// A landscape screen (1920×1080) instead of portrait (1080×1920).
    #[arg(long)]
    landscape: bool,
    /// The kiosk's data folder (its database) [default: kiosk-data].
    #[arg(long, value_name = "DIR")]
    kiosk_data: Option<PathBuf>,
    /// The camera: a V4L2 index (0 is /dev/video0) or a device path such as /dev/kiosk-camera.
    #[arg(long, value_name = "N|PATH")]
    camera: Option<String>,
    /// The ID-card reader's serial port, e.g. /dev/idreader.
    #[arg(long, value_name = "PATH")]
    reader: Option<PathBuf>,
    /// Use the simulated camera and reader even when hardware is present.
    #[arg(long)]
    demo: bool,
    /// Start in English.
    #[arg(long)]
    english: bool,
    /// The collection batch (for CHSI its feature code).
    #[arg(long)]
    batch: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check photos against an exam profile: every check with its value, limit and reason.
    Check(check::CheckArgs),
    /// Run every check on a labelled set of photos: defects caught, photos failed wrongly, and
    /// the limit that would balance them, per check.
    Eval(eval::EvalArgs),
    /// 1:1 verification on labelled same/different pairs, on full photos and at the ID chip's
    /// size: equal error rate, its threshold, false accepts and rejects at the kiosk's.
    EvalVerify(eval_verify::EvalVerifyArgs),
    /// Make the spec's ID photo from a capture and validate it.
    Photo(photo::PhotoArgs),
    /// Lay out a print sheet of one ID photo with cut marks.
    Sheet(sheet::SheetArgs),
    /// Compare the faces in two photos (1:1 verification): exits 0 for the same person, 1
    /// for different people, 2 when a photo cannot be read or shows no face.
    Verify(verify::VerifyArgs),
    /// Measure the engine's speed on this machine (medians).
    Bench(bench::BenchArgs),
    /// The live path at the camera's pace: 1080p MJPEG at 30 fps through the kiosk's camera
    /// worker; frame rate, drops and why, arrival-to-prompt time, CPU per thread.
    BenchLive(bench_live::BenchLiveArgs),
    /// Measure upload throughput on loopback and the drain time of a backlog.
    BenchUpload(bench_upload::BenchUploadArgs),
    /// Kiosks' upload times on loopback in quiet and while strangers attack the hub; its peak memory.
    BenchHub(bench_hub::BenchHubArgs),
    /// A province's hub on this machine: replicas sharing a database and a bucket behind a
    /// proxy, simulated kiosks, a replica killed mid-run; lost, duplicated, records/s, memory.
    BenchFleet(bench_fleet::BenchFleetArgs),
    /// The camera: list, snapshot, calibrate the focal length, estimate distances.
    #[command(subcommand)]
    Camera(camera::CameraCommand),
    /// Run the collection hub (uploads, review page, rosters), or administer its data.
    Hub(Box<capture_hub::cli::HubArgs>),
    /// The upload queue in the kiosk's database.
    #[command(subcommand)]
    Queue(queue::QueueCommand),
    /// The ID-card reader: read a card, or simulate a reader.
    #[command(subcommand)]
    Reader(reader::ReaderCommand),
    /// Staff set-up from a terminal: the PIN, the printer; the audit trail.
    #[command(subcommand)]
    Staff(staff::StaffCommand),
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let site = KioskConfig::load(cli.config.as_deref(), Path::new(config::DEFAULT_PATH))?;
    let kiosk_data = cli
        .kiosk_data
        .clone()
        .or_else(|| site.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("kiosk-data"));
    let mut catalog = Catalog::shipped()?;
    if let Some(dir) = cli.data_dir.as_ref().or(site.site_data.as_ref()) {
        for replaced in catalog.extend(&read_data_dir(dir)?)? {
            // on stderr, so that a command's --json stays one JSON document
            eprintln!("kiosk: {replaced}");
        }
    }
    let default_db = kiosk_data.join("kiosk.sqlite");
    let Some(command) = cli.command else {
        let mut opts = capture_kiosk::kiosk::KioskOptions::new(kiosk_data.clone());
        opts.force_demo = cli.demo;
        opts.english = cli.english || site.language == Some(config::Language::En);
        opts.landscape = cli.landscape || site.landscape == Some(true);
        opts.batch = cli.batch.clone();
        let camera = match &cli.camera {
            Some(c) => Some(match c.parse::<u32>() {
                Ok(i) => config::CameraDevice::Index(i),
                Err(_) => config::CameraDevice::Path(PathBuf::from(c)),
            }),
            None => site.camera.clone(),
        };
        if let Some(c) = camera {
            opts.camera = c.index().map_err(anyhow::Error::msg)?;
        }
        opts.reader = cli.reader.clone().or_else(|| site.reader.clone());
        opts.site = site.clone();
        if let Some(dir) = &cli.headless_demo {
            let all = capture_kiosk::kiosk::app::PROFILES;
            let profiles: Vec<&str> = if cli.demo_profiles.is_empty() {
                all.to_vec()
            } else {
                let mut chosen = Vec::new();
                for name in &cli.demo_profiles {
                    let Some(p) = all.iter().find(|p| **p == name.as_str()) else {
                        bail!("no exam profile {name:?}; the demo has {}", all.join(", "));
                    };
                    // the same candidate twice would come back as a returning one
                    if !chosen.contains(p) {
                        chosen.push(*p);
                    }
                }
                chosen
            };
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            opts.data_dir = capture_kiosk::kiosk::demo::fresh_demo_data_dir(dir, &kiosk_data)?;
            // the demo's own database: the site's hub link and printer stay out of it
            opts.site = KioskConfig::default();
            say(format!(
                "demo data (database, outbox) in {}",
                opts.data_dir.display()
            ));
            let report =
                capture_kiosk::kiosk::headless_demo(dir, &opts, catalog, &profiles, cli.landscape)?;
            say(format!(
                "{} sessions, each with its record in the outbox; {} screenshots in {}",
                report.sessions.len(),
                report.screenshots.len(),
                dir.display()
            ));
            let mut fps = report.live_fps.clone();
            fps.sort_by(f32::total_cmp);
            say(format!(
                "first screen after {} ms (models and devices loaded); preview with guidance: median {:.1} fps ({} one-second readings); memory: {} MB now, {} MB peak",
                report.first_screen_ms,
                fps.get(fps.len() / 2).copied().unwrap_or(0.0),
                fps.len(),
                report.rss_kb / 1024,
                report.peak_rss_kb / 1024
            ));
            return Ok(ExitCode::SUCCESS);
        }
        capture_kiosk::kiosk::run_window(opts, catalog)?;
        return Ok(ExitCode::SUCCESS);
    };
    match command {
        Command::Check(a) => check::run(a, &catalog),
        Command::Eval(a) => eval::run(a, &catalog),
        Command::EvalVerify(a) => eval_verify::run(a),
        Command::Photo(a) => photo::run(a, &catalog),
        Command::Sheet(a) => sheet::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Bench(a) => bench::run(a, &catalog),
        Command::Reader(c) => reader::run(c),
        Command::Camera(c) => camera::run(c),
        Command::Queue(c) => queue::run(c, &default_db),
        Command::Staff(c) => staff::run(c, &default_db),
        Command::Hub(a) => capture_hub::cli::run(*a),
        Command::BenchUpload(a) => bench_upload::run(a),
        Command::BenchHub(a) => bench_hub::run(a),
        Command::BenchFleet(a) => bench_fleet::run(a),
        Command::BenchLive(a) => bench_live::run(a, &catalog),
    }
}

/// The `*.toml` files of `dir/specs` and `dir/profiles`, for the catalog. A folder that is
/// not there, or has neither, is an error: a mistyped path must not quietly leave a site's
/// own limits out.
fn read_data_dir(dir: &Path) -> Result<Vec<(DataKind, String, String)>> {
    if !dir.is_dir() {
        bail!(
            "the data folder {} is not a folder: give one holding specs/ and profiles/ · 数据文件夹不存在",
            dir.display()
        );
    }
    let mut files = Vec::new();
    let mut found = false;
    for (sub, kind) in [("specs", DataKind::Spec), ("profiles", DataKind::Profile)] {
        let sub = dir.join(sub);
        if !sub.is_dir() {
            continue;
        }
        found = true;
        let entries =
            std::fs::read_dir(&sub).with_context(|| format!("reading {}", sub.display()))?;
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.retain(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"));
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            files.push((kind, path.display().to_string(), text));
        }
    }
    if !found {
        bail!(
            "the data folder {} has no specs/ or profiles/ folder in it · 数据文件夹中没有 specs/ 或 profiles/",
            dir.display()
        );
    }
    Ok(files)
}

/// Makes `dir` (and missing parents) for pictures of faces: a new folder only this user may
/// enter (the store's `private_dir`); one that is there is the user's own choice, left as it
/// is, and the files written into it are private.
pub(crate) fn make_face_folder(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    // a file given where a folder belongs: said as such, not as a folder others can read
    if dir.exists() {
        anyhow::bail!(
            "{}: 不是文件夹，请给一个文件夹（不存在则新建） / is not a folder: give a folder (a new one is made)",
            dir.display()
        );
    }
    capture_kiosk::store::private_dir(dir)
        .with_context(|| format!("cannot make the folder {}", dir.display()))
}

/// Writes a picture of a face as PNG that only this user may read (the store's
/// `write_private_new`, 0600), in place of a file of that name and its looser permissions.
pub(crate) fn write_face_png(path: &Path, img: &RgbImage) -> Result<()> {
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .with_context(|| format!("cannot encode {}", path.display()))?;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot replace {}", path.display()));
        }
        _ => {}
    }
    capture_kiosk::store::write_private_new(path, &png)
        .with_context(|| format!("cannot write {}", path.display()))
}

pub(crate) fn load_engine() -> Result<FaceEngine> {
    FaceEngine::load_default().context("loading the face models")
}

/// Prints a line to stdout; a closed pipe (`kiosk check … | head`) ends output quietly rather
/// than with a panic.
pub(crate) fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// A labelled set or a roster of a whole province is a few MB; anything far larger is not a CSV
/// the kiosk's commands take.
const LARGEST_CSV: u64 = 64 << 20;

/// Reads a CSV file as a spreadsheet saves it (UTF-8 with or without its mark, or GBK); the
/// error names the file and says how to save it instead.
pub(crate) fn read_csv_text(path: &Path) -> Result<String> {
    let bytes = capture_store::read_at_most(path, LARGEST_CSV)
        .with_context(|| format!("reading {}", path.display()))?;
    capture_kiosk::spreadsheet::spreadsheet_text(&bytes).with_context(|| {
        format!(
            "{}: 既不是 UTF-8 也不是 GBK 文本，请在表格软件中另存为“CSV UTF-8” / is neither \
             UTF-8 nor GBK text: save it from the spreadsheet as \"CSV UTF-8\"",
            path.display()
        )
    })
}

/// Reads and decodes an image file; the error names the file and what is wrong with it.
pub(crate) fn read_image(path: &Path) -> Result<RgbImage, String> {
    let limits = DecodeLimits::default();
    let bytes =
        capture_store::read_at_most(path, limits.max_file_bytes as u64).map_err(|e| match e {
            capture_store::ReadFileError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                format!("{}: 文件不存在 / no such file", path.display())
            }
            capture_store::ReadFileError::Io(io) => {
                format!("{}: 无法读取 / cannot read: {io}", path.display())
            }
            other => format!("{}: {other}", path.display()),
        })?;
    decode_image(&bytes, limits).map_err(|e| format!("{}: {e}", path.display()))
}
