//! `kiosk bench-live`: the kiosk's real live path at a camera's pace. Real photographs are
//! encoded as 1080p MJPEG frames of a candidate who moves (nearer, further, side to side),
//! leaves and comes back; a simulated camera plays them at 30 fps through the same camera
//! worker the kiosk runs (decode → guide → preview → the UI's one-slot channel), and a UI
//! loop takes them on the kiosk's timer. Prints the rate, every dropped frame and why, the
//! time from a frame's arrival to its prompt, and the CPU each thread used.

use super::{load_engine, read_image, say};
use anyhow::{anyhow, Result};
use capture_kiosk::camera::playback::JpegPlayback;
use capture_kiosk::catalog::Catalog;
use capture_kiosk::engine::FaceEngine;
use capture_kiosk::guidance::{CameraModel, LiveGuide};
use capture_kiosk::kiosk::devices::CameraWorker;
use clap::Args;
use image::RgbImage;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchLiveArgs {
    /// The candidate's portrait (the test set-up fetches it).
    #[arg(long, default_value = "tests/photos/biden.jpg")]
    image: PathBuf,
    /// How long the camera plays.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    #[arg(long, default_value = "chsi-graduation")]
    profile: String,
}

/// Frames in one walk of the candidate's path (4 s at 30 fps), then 1 s with nobody there.
const PATH_FRAMES: usize = 120;
const ABSENT_FRAMES: usize = 30;
/// The kiosk's UI timer.
const UI_TICK: Duration = Duration::from_millis(16);
const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;

/// The candidate's path: frame `i` of the walk as (face width in px, eyes' x, eyes' y).
fn pose_at(i: usize) -> (f32, f32, f32) {
    let t = i as f32 / PATH_FRAMES as f32 * std::f32::consts::TAU;
    // 1080p at 60°: a face 250 px wide is ~90 cm away; they come to ~65 cm and back to ~115
    let face = 250.0 + 70.0 * t.sin();
    let x = WIDTH as f32 * (0.5 + 0.08 * (2.0 * t).sin());
    let y = HEIGHT as f32 * (0.4 + 0.03 * t.cos());
    (face, x, y)
}

/// The 1080p frames of one walk and one empty room, as the camera's JPEGs.
fn encode_frames(engine: &FaceEngine, portrait: &RgbImage) -> Result<Vec<Vec<u8>>> {
    let analysis = engine.locate_still(portrait)?;
    let g = analysis
        .subject
        .as_ref()
        .ok_or_else(|| anyhow!("no face in the bench photo"))?
        .geometry
        .clone();
    let room = RgbImage::from_pixel(WIDTH, HEIGHT, image::Rgb([196, 200, 204]));
    let encode = |img: &RgbImage| -> Result<Vec<u8>> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(img)?;
        Ok(out)
    };
    let mut frames = Vec::with_capacity(PATH_FRAMES + ABSENT_FRAMES);
    for i in 0..PATH_FRAMES {
        let (face, x, y) = pose_at(i);
        let mut frame = room.clone();
        super::bench::paste_portrait(&mut frame, portrait, &g, face, (x, y));
        frames.push(encode(&frame)?);
    }
    let empty = encode(&room)?;
    frames.extend(std::iter::repeat_n(empty, ABSENT_FRAMES));
    Ok(frames)
}

/// CPU seconds (user + system) in a /proc `stat` file's text.
fn stat_cpu_seconds(stat: &str) -> f64 {
    // clock ticks per second for /proc's utime and stime (100 on every Linux the kiosk runs)
    const TICKS: f64 = 100.0;
    // fields after the command's closing parenthesis; utime and stime are the 12th and 13th
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>()
        / TICKS
}

/// CPU seconds used so far by each of this process's threads named in `names`.
/// The camera worker's threads, and the face parsing's own pool (its threads are numbered:
/// names match by their start).
const THREADS: [&str; 4] = ["camera", "guide", "aside", "face-parsing"];

fn thread_cpu_seconds(names: &[&str]) -> Vec<f64> {
    let mut out = vec![0.0; names.len()];
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let Some(slot) = names.iter().position(|n| comm.trim().starts_with(n)) else {
            continue;
        };
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        out[slot] += stat_cpu_seconds(&stat);
    }
    out
}

fn percentile(sorted: &[f32], q: f64) -> f32 {
    if sorted.is_empty() {
        return f32::NAN;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize)
        .saturating_sub(1)
        .min(sorted.len() - 1)]
}

pub fn run(args: BenchLiveArgs, catalog: &Catalog) -> Result<ExitCode> {
    let portrait = read_image(&args.image)
        .map_err(|m| anyhow!("{m} (run scripts/fetch-test-photos first)"))?;
    let profile = catalog.profile(&args.profile)?;
    let spec = catalog.spec(&profile.spec)?;
    let engine = load_engine()?;
    say(format!(
        "encoding {} frames of 1080p MJPEG (a candidate walking, then an empty room)…",
        PATH_FRAMES + ABSENT_FRAMES
    ));
    let frames = encode_frames(&engine, &portrait)?;
    let mean_kb = frames.iter().map(Vec::len).sum::<usize>() / frames.len().max(1) / 1024;
    let camera = JpegPlayback::new(frames, args.fps);
    let missed = camera.missed();
    let guide = LiveGuide::new(
        engine.clone(),
        CameraModel::typical(WIDTH),
        profile,
        spec.glasses_allowed,
    );
    let worker = CameraWorker::start(Box::new(camera), guide, 720);
    worker.set_active(true);
    // the first second warms up (models' first runs, page faults): not counted
    std::thread::sleep(Duration::from_secs(1));
    let _ = worker.stats(true);
    let missed_before = missed.load(Ordering::Relaxed);
    let cpu_before = thread_cpu_seconds(&THREADS);
    let ui_cpu_before = cpu_time_of_this_thread();
    let started = Instant::now();
    let (mut shown, mut prompts, mut errors) = (0u64, 0u64, 0u64);
    let mut tick_ms = Vec::new();
    while started.elapsed() < Duration::from_secs(args.seconds) {
        let t = Instant::now();
        match worker.poll() {
            Some(Ok(frame)) => {
                shown += 1;
                prompts += u64::from(frame.guidance.is_some());
            }
            Some(Err(_)) => errors += 1,
            None => {}
        }
        tick_ms.push(t.elapsed().as_secs_f32() * 1000.0);
        std::thread::sleep(UI_TICK.saturating_sub(t.elapsed()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = worker.stats(false);
    let cpu_after = thread_cpu_seconds(&THREADS);
    let ui_cpu = cpu_time_of_this_thread() - ui_cpu_before;
    let missed = missed.load(Ordering::Relaxed) - missed_before;
    drop(worker);

    let sent = stats.delivered + missed;
    let dropped = missed + stats.damaged + stats.skipped_by_guide + stats.skipped_by_ui;
    let mut latency: Vec<f32> = stats.arrival_to_prompt_ms.iter().copied().collect();
    latency.sort_by(|a, b| a.total_cmp(b));
    tick_ms.sort_by(|a, b| a.total_cmp(b));
    say(format!(
        "live path: 1080p MJPEG (~{mean_kb} KB a frame) at {} fps for {elapsed:.0} s, cores: {}",
        args.fps,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    say(format!(
        "  frames sent by the camera {sent:6} ({:.1}/s)",
        sent as f64 / elapsed
    ));
    say(format!(
        "  analysed and shown        {:6} ({:.1}/s; {shown} taken by the UI, {prompts} with a prompt)",
        stats.analysed,
        stats.analysed as f64 / elapsed
    ));
    say(format!(
        "  dropped                   {dropped:6} ({:.2} %): camera not read in time {missed}, damaged {}, guide busy {}, UI busy {}; from before a restart {}; camera errors {errors}",
        100.0 * dropped as f64 / sent.max(1) as f64,
        stats.damaged,
        stats.skipped_by_guide,
        stats.skipped_by_ui,
        stats.stale,
    ));
    say(format!(
        "  arrival → prompt          median {:6.1} ms   p95 {:6.1} ms   max {:6.1} ms",
        percentile(&latency, 0.5),
        percentile(&latency, 0.95),
        latency.last().copied().unwrap_or(f32::NAN)
    ));
    let cpu: Vec<f64> = cpu_after
        .iter()
        .zip(&cpu_before)
        .map(|(a, b)| 100.0 * (a - b) / elapsed)
        .collect();
    say(format!(
        "  CPU per thread            camera (decode, preview) {:.0} %, guide (models) {:.0} %, aside (far look, parsing) {:.0} %, UI {:.0} %",
        cpu[0],
        cpu[1],
        cpu[2] + cpu[3],
        100.0 * ui_cpu / elapsed
    ));
    say(format!(
        "  UI tick (taking a frame)  median {:6.2} ms   p95 {:6.2} ms",
        percentile(&tick_ms, 0.5),
        percentile(&tick_ms, 0.95)
    ));
    Ok(ExitCode::SUCCESS)
}

/// CPU seconds used by the calling thread.
fn cpu_time_of_this_thread() -> f64 {
    stat_cpu_seconds(&std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default())
}
