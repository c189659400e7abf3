//! Shared set-up for the tests on real photographs: the engine loads once per test binary, and
//! the photos come from `scripts/fetch-test-photos` (a pinned registry package, sha256 checked).

#![allow(dead_code)]

use capture_kiosk::catalog::{Catalog, CheckLimits, ExamProfile, PhotoSpec};
use capture_kiosk::checks::{evaluate, CheckId, CheckReport};
use capture_kiosk::engine::FaceEngine;
use capture_kiosk::geometry::{Point, Similarity};
use capture_kiosk::imaging::{decode_image, warp_rgb, DecodeLimits};
use image::{Rgb, RgbImage};
use std::path::PathBuf;
use std::sync::OnceLock;

pub mod browser;
pub mod bucket;
pub mod certs;
pub mod hubs;

/// Runs the built `kiosk` binary with `args`.
pub fn run_kiosk(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(hubs::with_database(args))
        .output()
        .expect("kiosk runs")
}

/// Runs the built `kiosk` binary with `args`, writing `input` to its standard input (a
/// password it reads there).
pub fn run_kiosk_with_input(args: &[&std::ffi::OsStr], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(hubs::with_database(args))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiosk runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("kiosk reads its input");
    child.wait_with_output().expect("kiosk ends")
}

/// A path for a test's output file under the target folder's scratch space, in `folder`.
pub fn scratch(folder: &str, name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(folder);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir.join(name)
}

pub fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| FaceEngine::load_default().expect("models load from models/"))
}

pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::shipped().expect("shipped catalog parses"))
}

pub fn photo_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/photos")
        .join(name)
}

pub fn photo(name: &str) -> RgbImage {
    let path = photo_path(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/fetch-test-photos first",
            path.display()
        )
    });
    decode_image(&bytes, DecodeLimits::default()).expect("test photo decodes")
}

pub fn profile(name: &str) -> (&'static ExamProfile, &'static PhotoSpec) {
    let p = catalog().profile(name).expect("profile");
    (p, catalog().spec(&p.spec).expect("spec"))
}

/// A photo of the development set (`scripts/fetch-eval-photos`, labels in tests/eval).
pub fn eval_photo_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/eval/photos")
        .join(name)
}

pub fn eval_photo(name: &str) -> RgbImage {
    let path = eval_photo_path(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/fetch-eval-photos first",
            path.display()
        )
    });
    decode_image(&bytes, DecodeLimits::default()).expect("decodes")
}

pub fn check(img: &RgbImage, profile_name: &str) -> CheckReport {
    let (p, spec) = profile(profile_name);
    let analysis = engine().analyze_still(img).expect("analysis runs");
    evaluate(img, &analysis, spec, p)
}

/// [`check`] with one of the profile's limits changed, to show what another measure decides
/// where that limit no longer does.
pub fn check_with_limits(
    img: &RgbImage,
    profile_name: &str,
    change: impl FnOnce(&mut CheckLimits),
) -> CheckReport {
    let (p, spec) = profile(profile_name);
    let mut changed = p.clone();
    change(&mut changed.limits);
    let analysis = engine().analyze_still(img).expect("analysis runs");
    evaluate(img, &analysis, spec, &changed)
}

/// Rotates the image by `degrees` about `centre` (same size; corners filled from the edge).
pub fn rotate(img: &RgbImage, centre: Point, degrees: f32) -> RgbImage {
    let t = Similarity::crop(
        centre,
        img.width().max(img.height()) as f32,
        degrees.to_radians(),
        img.width().max(img.height()) as f32,
    );
    // `crop` maps centre to the middle of a square; shift it back so the centre stays put
    let side = img.width().max(img.height()) as f32;
    let shift = Similarity {
        a: 1.0,
        b: 0.0,
        tx: centre.x - side / 2.0,
        ty: centre.y - side / 2.0,
    };
    let t = Similarity {
        a: t.a,
        b: t.b,
        tx: t.tx + shift.tx,
        ty: t.ty + shift.ty,
    };
    warp_rgb(img, &t, img.width(), img.height())
}

/// The base capture: the Biden portrait levelled (his head is tilted 12° in the original), so
/// that every check passes and each defect below can be pinned on one check.
pub fn levelled_base() -> RgbImage {
    static BASE: OnceLock<RgbImage> = OnceLock::new();
    BASE.get_or_init(|| {
        let img = photo("biden.jpg");
        let a = engine().analyze_still(&img).expect("analysis");
        let s = a.subject.expect("a face in biden.jpg");
        rotate(&img, s.geometry.eye_mid, s.pose.roll)
    })
    .clone()
}

pub fn failed_ids(r: &CheckReport) -> Vec<CheckId> {
    r.failed().map(|c| c.id).collect()
}

/// Draws a dark frame of glasses: a rim around each eye and a bridge between them.
pub fn draw_glasses(img: &mut RgbImage, right: Point, left: Point) {
    let d = right.distance(left);
    let t = (d * 0.05).max(2.0);
    // 50 mm lenses and an 18 mm bridge for 63 mm between the pupils
    let (rw, rh) = (d * 0.38, d * 0.28);
    let dark = Rgb([25, 25, 30]);
    let mut put = |x: f32, y: f32| {
        if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
            img.put_pixel(x as u32, y as u32, dark);
        }
    };
    for eye in [right, left] {
        // an elliptic rim of thickness t
        let steps = 720;
        for i in 0..steps {
            let a = i as f32 / steps as f32 * std::f32::consts::TAU;
            for k in 0..t as i32 {
                let (ex, ey) = (rw + k as f32, rh + k as f32);
                put(eye.x + ex * a.cos(), eye.y + ey * a.sin());
            }
        }
    }
    // the bridge across the nose, slightly above the eye line
    let y = (right.y + left.y) / 2.0 - rh * 0.3;
    let mut x = right.x + rw;
    while x <= left.x - rw {
        for k in 0..t as i32 {
            put(x, y + k as f32);
        }
        x += 0.5;
    }
}
