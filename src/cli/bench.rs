//! `kiosk bench`: medians (and p95) of the engine's hot paths on this machine.

use super::{load_engine, read_image, say};
use anyhow::{anyhow, Result};
use capture_kiosk::camera::simulated::phone_showing_qr;
use capture_kiosk::camera::Frame;
use capture_kiosk::catalog::{Catalog, ExamProfile, PhotoSpec};
use capture_kiosk::checks::evaluate;
use capture_kiosk::engine::{
    descriptor_distance, read_eye, EyeSide, FaceEngine, FaceGeometry, FastDetector,
};
use capture_kiosk::guidance::{CameraModel, LiveGuide};
use capture_kiosk::imaging::read_qr_codes;
use capture_kiosk::kiosk::preview::PreviewMaker;
use capture_kiosk::photo::{check_and_make, make_photo};
use clap::Args;
use image::{imageops, RgbImage};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    /// A portrait photo to run on (the test set-up fetches one).
    #[arg(long, default_value = "tests/photos/biden.jpg")]
    image: PathBuf,
    /// Runs per measure.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    #[arg(long, default_value = "chsi-graduation")]
    profile: String,
}

/// The portrait centred on a canvas of the given size, scaled so the face is `face_px` wide
/// with the eyes at 40% of the height (a candidate at the kiosk's working distance).
fn scene(
    engine: &FaceEngine,
    portrait: &RgbImage,
    w: u32,
    h: u32,
    face_px: f32,
) -> Result<RgbImage> {
    let analysis = engine.locate_still(portrait)?;
    let g = &analysis
        .subject
        .as_ref()
        .ok_or_else(|| anyhow!("no face in the bench photo"))?
        .geometry;
    let mut canvas = RgbImage::from_pixel(w, h, image::Rgb([200, 200, 200]));
    paste_portrait(
        &mut canvas,
        portrait,
        g,
        face_px,
        (w as f32 / 2.0, h as f32 * 0.4),
    );
    Ok(canvas)
}

/// Pastes `portrait` (whose face is `g`) onto `canvas` scaled so the face is `face_px` wide,
/// with the eyes' midpoint at `eyes` (shared with `kiosk bench-live`).
pub(super) fn paste_portrait(
    canvas: &mut RgbImage,
    portrait: &RgbImage,
    g: &FaceGeometry,
    face_px: f32,
    eyes: (f32, f32),
) {
    let k = face_px / g.face_width;
    let scaled = imageops::resize(
        portrait,
        ((portrait.width() as f32 * k) as u32).max(1),
        ((portrait.height() as f32 * k) as u32).max(1),
        imageops::FilterType::Triangle,
    );
    let x = (eyes.0 - g.eye_mid.x * k) as i64;
    let y = (eyes.1 - g.eye_mid.y * k) as i64;
    imageops::replace(canvas, &scaled, x, y);
}

fn stats(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let median = ms[ms.len() / 2];
    let p95 = ms[((ms.len() as f64 * 0.95).ceil() as usize)
        .saturating_sub(1)
        .min(ms.len() - 1)];
    (median, p95)
}

fn time<T>(runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, f64)> {
    f()?; // warm-up
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(stats(ms))
}

/// Where a guidance frame's time goes: each model alone and the pixel measures, on the
/// bench scene (a frame that tracks runs the mesh once and the detector on a slow timer).
fn guidance_parts(
    engine: &FaceEngine,
    guide: &LiveGuide,
    frame: &RgbImage,
    runs: usize,
) -> Result<()> {
    let models = engine.models();
    let mut detector = FastDetector::default();
    let (m, p) = time(runs, || Ok(detector.detect(models, frame)?))?;
    say(format!(
        "  fast detector 128     median {m:7.2} ms   p95 {p:7.2} ms"
    ));
    let face = detector
        .detect(models, frame)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("the fast detector found no face in the bench scene"))?;
    let mut scratch = Vec::new();
    let (m, p) = time(runs, || Ok(engine.mesh_for(frame, &face, &mut scratch)?))?;
    say(format!(
        "  mesh from a detection median {m:7.2} ms   p95 {p:7.2} ms (2 passes)"
    ));
    let mesh = engine.mesh_for(frame, &face, &mut scratch)?;
    let (m, p) = time(runs, || {
        Ok(engine.track_mesh(frame, &mesh, &mut scratch)?)
    })?;
    say(format!(
        "  mesh, tracked         median {m:7.2} ms   p95 {p:7.2} ms (1 pass)"
    ));
    let (m, p) = time(runs, || {
        Ok(read_eye(
            models,
            frame,
            &mesh,
            EyeSide::Right,
            &mut scratch,
        )?)
    })?;
    say(format!(
        "  iris, one eye         median {m:7.2} ms   p95 {p:7.2} ms (1 frame in 16)"
    ));
    let pose = mesh.pose();
    let (m, p) = time(runs, || Ok(guide.judge(frame, &mesh, 90.0, pose)))?;
    say(format!(
        "  pixel measures        median {m:7.2} ms   p95 {p:7.2} ms"
    ));
    Ok(())
}

/// Where the full check's time goes: each model alone on the still. The eyes (the iris model,
/// then the attention mesh) and the parsing run on their own threads beside the person mask,
/// so the check takes less than their sum.
fn still_parts(
    engine: &FaceEngine,
    still: &RgbImage,
    (spec, profile): (&PhotoSpec, &ExamProfile),
    runs: usize,
) -> Result<()> {
    let mut scratch = Vec::new();
    let (m, p) = time(runs, || Ok(engine.detect_on_both_cores(still)?))?;
    say(format!(
        "  face detector        median {m:7.2} ms   p95 {p:7.2} ms (2 threads)"
    ));
    let face = engine
        .detect(still)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("the detector found no face in the bench still"))?;
    let (m, p) = time(runs, || Ok(engine.mesh_for(still, &face, &mut scratch)?))?;
    say(format!(
        "  mesh                 median {m:7.2} ms   p95 {p:7.2} ms (2 passes)"
    ));
    let mesh = engine.mesh_for(still, &face, &mut scratch)?;
    let models = engine.models();
    let (m, p) = time(runs, || {
        read_eye(models, still, &mesh, EyeSide::Right, &mut scratch)?;
        Ok(read_eye(models, still, &mesh, EyeSide::Left, &mut scratch)?)
    })?;
    say(format!(
        "  iris, both eyes      median {m:7.2} ms   p95 {p:7.2} ms"
    ));
    let (m, p) = time(runs, || Ok(engine.refine(still, &mesh, &mut scratch)?))?;
    say(format!(
        "  refined eyes, lips   median {m:7.2} ms   p95 {p:7.2} ms (attention mesh)"
    ));
    let (m, p) = time(runs, || Ok(engine.parts(still, &mesh, &mut scratch)?))?;
    say(format!(
        "  face parsing         median {m:7.2} ms   p95 {p:7.2} ms (2 threads)"
    ));
    let side = mesh.face_width() * 4.2;
    let centre = mesh.right_eye().midpoint(mesh.left_eye());
    let (m, p) = time(runs, || Ok(engine.segment(still, centre, side)?))?;
    say(format!(
        "  person mask          median {m:7.2} ms   p95 {p:7.2} ms"
    ));
    let analysis = engine.analyze_still(still)?;
    let (m, p) = time(runs, || Ok(evaluate(still, &analysis, spec, profile)))?;
    say(format!(
        "  checks on the analysis median {m:5.2} ms   p95 {p:7.2} ms (pixel measures, framing)"
    ));
    Ok(())
}

pub fn run(args: BenchArgs, catalog: &Catalog) -> Result<ExitCode> {
    let runs = args.runs.max(3);
    let portrait = read_image(&args.image)
        .map_err(|m| anyhow!("{m} (run scripts/fetch-test-photos first)"))?;
    let profile = catalog.profile(&args.profile)?;
    let spec = catalog.spec(&profile.spec)?;
    let t = Instant::now();
    let engine = load_engine()?;
    say(format!(
        "model load            {:8.1} ms (once)",
        t.elapsed().as_secs_f64() * 1000.0
    ));

    // 85 px: a 14 cm face at 90 cm through a 60° 640-px webcam
    let frame = scene(&engine, &portrait, 640, 480, 85.0)?;
    let mut guide = LiveGuide::new(
        engine.clone(),
        CameraModel::typical(640),
        profile,
        spec.glasses_allowed,
    );
    let (m, p) = time(runs * 3, || Ok(guide.frame(&frame)?))?;
    say(format!(
        "guidance frame 640×480 median {m:7.1} ms   p95 {p:7.1} ms"
    ));
    guidance_parts(&engine, &guide, &frame, runs * 3)?;

    let still = scene(&engine, &portrait, 1920, 1080, 300.0)?;
    let (m, p) = time(runs, || {
        let a = engine.analyze_still(&still)?;
        Ok(evaluate(&still, &a, spec, profile))
    })?;
    say(format!(
        "full check 1920×1080   median {m:7.1} ms   p95 {p:7.1} ms"
    ));
    still_parts(&engine, &still, (spec, profile), runs)?;

    let analysis = engine.analyze_still(&still)?;
    let (m, p) = time(runs.min(10), || {
        Ok(make_photo(&engine, &still, &analysis, spec, profile)?)
    })?;
    say(format!(
        "make photo ({})     median {m:7.1} ms   p95 {p:7.1} ms",
        spec.name
    ));

    // the candidate's wait at the shutter: the camera's 1080p JPEG decoded in full, analysed
    // once, then the verdict and the photo side by side (what the kiosk runs)
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&still)?;
    let capture = Frame::Jpeg(jpeg.into());
    let (m, p) = time(runs.min(10), || {
        let frame = capture.full()?;
        let a = engine.analyze_still(&frame)?;
        let (report, photo) = check_and_make(&engine, &frame, &a, spec, profile);
        Ok((report.ok, photo?.valid))
    })?;
    say(format!(
        "shutter → verdict 1080p median {m:7.1} ms   p95 {p:7.1} ms (decode, analysis, check ∥ photo)"
    ));

    let other = imageops::flip_horizontal(&portrait);
    // as the kiosk runs it: the two faces described side by side
    let (m, p) = time(runs, || {
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| engine.describe(&portrait));
            let b = engine.describe(&other);
            (a.join(), b)
        });
        let a = a
            .map_err(|_| anyhow!("the describing thread stopped"))??
            .ok_or_else(|| anyhow!("no face"))?;
        let b = b?.ok_or_else(|| anyhow!("no face"))?;
        Ok(descriptor_distance(&a, &b))
    })?;
    say(format!(
        "verify (2 photos)      median {m:7.1} ms   p95 {p:7.1} ms"
    ));

    // the live screen's per-frame work besides the guide, on a 1080p camera frame
    let mut previews = PreviewMaker::new(720);
    let (m, p) = time(runs * 3, || Ok(previews.make(&still)))?;
    say(format!(
        "preview 1080p→720      median {m:7.1} ms   p95 {p:7.1} ms"
    ));
    // the CHSI scan screen: a frame with the phone held up, and one without
    let phone = phone_showing_qr("2026CHSIZ3K8F7002X", 9)
        .ok_or_else(|| anyhow!("cannot draw the QR code"))?;
    let mut held = still.clone();
    imageops::replace(&mut held, &phone, 780, 330);
    let found = read_qr_codes(&held);
    if found.len() != 1 {
        return Err(anyhow!("the bench QR code was not read: {found:?}"));
    }
    let (m, p) = time(runs, || Ok(read_qr_codes(&held)))?;
    say(format!(
        "QR scan 1080p, a code  median {m:7.1} ms   p95 {p:7.1} ms"
    ));
    let (m, p) = time(runs, || Ok(read_qr_codes(&still)))?;
    say(format!(
        "QR scan 1080p, none    median {m:7.1} ms   p95 {p:7.1} ms"
    ));
    Ok(ExitCode::SUCCESS)
}
