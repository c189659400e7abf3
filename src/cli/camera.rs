//! `kiosk camera list | snapshot | calibrate | distance`.

use super::known_distances::{by_distance, error_share, parse_known, AtDistance};
use super::table::{Align, Table};
use super::{load_engine, read_csv_text, read_image, say};
use anyhow::{anyhow, bail, Context, Result};
use capture_kiosk::camera::simulated::{Portrait, Scene, SimulatedCamera};
use capture_kiosk::camera::v4l::{list_cameras, V4lCamera};
use capture_kiosk::camera::{CameraProfile, FrameSource};
use capture_kiosk::engine::FaceEngine;
use capture_kiosk::guidance::FaceRuler;
use capture_kiosk::imaging::{decode_image, DecodeLimits};
use clap::{Args, Subcommand, ValueEnum};
use image::RgbImage;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum CameraCommand {
    /// List the cameras V4L2 can see.
    List,
    /// Save one frame from a camera or a simulated scene.
    Snapshot(SnapshotArgs),
    /// Measure a camera's focal length from a photo of a face at a known distance.
    Calibrate(CalibrateArgs),
    /// Estimate how far the face in each photo was from the camera.
    Distance(DistanceArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SimScene {
    /// The candidate walks from 150 cm to 40 cm.
    Approach,
    /// Light turns uneven across the face.
    UnevenLight,
    /// A second person steps in.
    SecondPerson,
}

#[derive(Args)]
pub struct SnapshotArgs {
    /// /dev/video<N>.
    #[arg(long, conflicts_with = "sim")]
    device: Option<u32>,
    /// A simulated scene instead of a camera.
    #[arg(long)]
    sim: Option<SimScene>,
    /// Which frame of the simulated scene (15 frames a second).
    #[arg(long, default_value_t = 0)]
    frame: u64,
    /// Camera profile (format, resolution, focal length).
    #[arg(long)]
    camera: Option<PathBuf>,
    #[arg(short = 'o', long = "out")]
    out: PathBuf,
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// How far the face was from the camera, in centimetres.
    #[arg(long)]
    distance_cm: f32,
    /// Profile to start from (format, resolution); default: the generic 1080p one.
    #[arg(long)]
    camera: Option<PathBuf>,
    /// Where to write the calibrated profile.
    #[arg(short = 'o', long = "out")]
    out: PathBuf,
    image: PathBuf,
}

#[derive(Args)]
pub struct DistanceArgs {
    /// The camera's profile, with the focal length `kiosk camera calibrate` measured.
    #[arg(long)]
    camera: PathBuf,
    /// One JSON object per photo and line (with --known, then one per distance).
    #[arg(long)]
    json: bool,
    /// A CSV of photos taken at measured distances (`file,distance_cm`, the files relative to
    /// it): each estimate's error, then per distance the median and worst error and how many
    /// are within 10 %.
    #[arg(long, value_name = "FILE.csv", conflicts_with = "images")]
    known: Option<PathBuf>,
    /// Photos of a face.
    #[arg(required_unless_present = "known")]
    images: Vec<PathBuf>,
}

const GENERIC_PROFILE: &str = include_str!("../../hardware/cameras/generic-uvc-1080p.toml");
const SIM_PROFILE: &str = include_str!("../../hardware/cameras/simulated-640.toml");
const SIM_SUBJECT: &[u8] = include_bytes!("../../hardware/cameras/sim/subject.jpg");
const SIM_SECOND: &[u8] = include_bytes!("../../hardware/cameras/sim/second.jpg");

fn profile_or(path: &Option<PathBuf>, fallback: &str) -> Result<CameraProfile> {
    match path {
        Some(p) => CameraProfile::load(p).map_err(|e| anyhow!(e)),
        None => CameraProfile::parse(fallback).map_err(|e| anyhow!(e)),
    }
}

pub fn run(cmd: CameraCommand) -> Result<ExitCode> {
    match cmd {
        CameraCommand::List => {
            let cams = list_cameras()?;
            if cams.is_empty() {
                say("没有找到摄像头 / no cameras found (the kiosk runs its simulated camera in demo mode)");
            }
            for (i, name) in cams {
                say(format!("/dev/video{i}  {name}"));
            }
            Ok(ExitCode::SUCCESS)
        }
        CameraCommand::Snapshot(a) => snapshot(a),
        CameraCommand::Calibrate(a) => calibrate(a),
        CameraCommand::Distance(a) => distance(a),
    }
}

/// The simulated camera for a named scene, with the shipped subject photograph.
pub(crate) fn simulated_scene(
    engine: &FaceEngine,
    scene: SimScene,
    profile: &CameraProfile,
) -> Result<SimulatedCamera> {
    let subject = decode_image(SIM_SUBJECT, DecodeLimits::default())?;
    let who = Portrait::measure(engine, subject)?
        .ok_or_else(|| anyhow!("the simulated subject has no face"))?;
    let scene = match scene {
        SimScene::Approach => Scene::Approach {
            who,
            from_cm: 150.0,
            to_cm: 40.0,
            frames: 60,
        },
        SimScene::UnevenLight => Scene::UnevenLight {
            who,
            at_cm: 90.0,
            frames: 45,
        },
        SimScene::SecondPerson => {
            let second = decode_image(SIM_SECOND, DecodeLimits::default())?;
            let other = Portrait::measure(engine, second)?
                .ok_or_else(|| anyhow!("the second person has no face"))?;
            Scene::SecondPerson {
                who,
                other,
                at_cm: 90.0,
                enter: 20,
            }
        }
    };
    Ok(SimulatedCamera::new(
        scene,
        profile.model_for(profile.width),
        profile.width,
        profile.height,
        profile.fps,
    ))
}

fn snapshot(a: SnapshotArgs) -> Result<ExitCode> {
    let frame: RgbImage = match (a.device, a.sim) {
        (Some(index), _) => {
            let profile = profile_or(&a.camera, GENERIC_PROFILE)?;
            let mut cam = match V4lCamera::open(index, profile) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("kiosk: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            // the first frames of many UVC cameras are still adjusting exposure
            for _ in 0..5 {
                let _ = cam.next_frame();
            }
            cam.next_frame()?.full()?.as_ref().clone()
        }
        (None, Some(scene)) => {
            let profile = profile_or(&a.camera, SIM_PROFILE)?;
            let engine = load_engine()?;
            let mut cam = simulated_scene(&engine, scene, &profile)?;
            for _ in 0..a.frame {
                cam.next_image();
            }
            cam.next_image()
        }
        (None, None) => bail!("say which camera: --device N or --sim SCENE"),
    };
    frame
        .save(&a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    say(format!(
        "{}: {}×{}",
        a.out.display(),
        frame.width(),
        frame.height()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The largest face's ruler for distance (its irises and eye spacing together, or the eye
/// spacing alone when the irises gave nothing).
fn face_ruler(engine: &FaceEngine, img: &RgbImage) -> Result<Option<FaceRuler>> {
    let a = engine.locate_still(img)?;
    Ok(a.subject.map(|s| {
        FaceRuler::new(
            s.geometry.right_eye.distance(s.geometry.left_eye),
            Some(s.eyes.iris_diameter_px),
        )
    }))
}

fn calibrate(a: CalibrateArgs) -> Result<ExitCode> {
    if !(20.0..=400.0).contains(&a.distance_cm) {
        bail!(
            "--distance-cm {} is not a distance a kiosk sees (20–400 cm)",
            a.distance_cm
        );
    }
    let mut profile = profile_or(&a.camera, GENERIC_PROFILE)?;
    let img = read_image(&a.image).map_err(|m| anyhow!(m))?;
    let engine = load_engine()?;
    let Some(ruler) = face_ruler(&engine, &img)? else {
        eprintln!("kiosk: {}: 没有找到人脸 / no face found", a.image.display());
        return Ok(ExitCode::from(1));
    };
    // the photo's own width is the camera's width in this mode
    profile.width = img.width();
    profile.height = img.height();
    profile.focal_px = ruler.focal_px_at(a.distance_cm);
    std::fs::write(&a.out, profile.to_toml())
        .with_context(|| format!("writing {}", a.out.display()))?;
    say(format!(
        "{}: focal length {:.1} px at {}×{} (by {} at {} cm)",
        a.out.display(),
        profile.focal_px,
        profile.width,
        profile.height,
        if ruler.from_iris {
            "the irises and the eye spacing"
        } else {
            "the eye spacing alone"
        },
        a.distance_cm
    ));
    Ok(ExitCode::SUCCESS)
}

fn distance(a: DistanceArgs) -> Result<ExitCode> {
    let profile = CameraProfile::load(&a.camera).map_err(|e| anyhow!(e))?;
    // each photo with its known distance and its line in the truth file, if one was given
    let photos: Vec<(PathBuf, Option<(f32, usize)>)> = match &a.known {
        Some(file) => {
            let folder = file.parent().unwrap_or(std::path::Path::new("."));
            parse_known(&read_csv_text(file)?, folder)
                .with_context(|| file.display().to_string())?
                .into_iter()
                .map(|p| (p.file, Some((p.known_cm, p.line))))
                .collect()
        }
        None => a.images.iter().map(|path| (path.clone(), None)).collect(),
    };
    let engine = load_engine()?;
    let mut code = 0u8;
    let mut results = Vec::with_capacity(photos.len());
    for (path, known) in &photos {
        let img = match read_image(path) {
            Ok(i) => i,
            Err(m) => {
                match known {
                    // counted at its distance as a photo not measured
                    Some((known_cm, line)) => {
                        eprintln!("kiosk: 第 {line} 行 line {line}: {m}");
                        results.push((*known_cm, None));
                    }
                    None => eprintln!("kiosk: {m}"),
                }
                code = 2;
                continue;
            }
        };
        let d = face_ruler(&engine, &img)?
            .map(|ruler| ruler.distance_cm(&profile.model_for(img.width())));
        if d.is_none() && code == 0 {
            code = 1;
        }
        let known = known.map(|(known_cm, _)| known_cm);
        if let Some(known) = known {
            results.push((known, d));
        }
        if a.json {
            let mut line = serde_json::json!({
                "file": path.display().to_string(),
                "distance_cm": d.map(|v| rounded(v, 10.0)),
            });
            if let Some(known) = known {
                line["known_cm"] = rounded(known, 10.0).into();
                line["error"] = d.map(|e| rounded(error_share(known, e), 1000.0)).into();
            }
            say(line);
        } else {
            let known_text = |e: f32| match known {
                Some(k) => format!(
                    " (实际 known {} cm, {:+.1} %)",
                    rounded(k, 10.0),
                    error_share(k, e) * 100.0
                ),
                None => String::new(),
            };
            match d {
                Some(v) => say(format!("{}: {v:.0} cm{}", path.display(), known_text(v))),
                None => say(format!("{}: 未检测到人脸 / no face", path.display())),
            }
        }
    }
    if a.known.is_some() {
        print_by_distance(&by_distance(&results), a.json);
    }
    Ok(ExitCode::from(code))
}

/// `v` rounded to `1 / per` (10: to a tenth), as the f64 JSON writes: an f32 widened as it
/// stands prints 58.3 as 58.29999923706055.
fn rounded(v: f32, per: f64) -> f64 {
    (f64::from(v) * per).round() / per
}

/// The per-distance summary after the photos' lines: Chinese headings over English ones,
/// the columns straight under both.
fn print_by_distance(rows: &[AtDistance], json: bool) {
    if json {
        for r in rows {
            let share = |v: Option<f32>| v.map(|v| rounded(v, 1000.0));
            say(serde_json::json!({
                "known_cm": rounded(r.known_cm, 10.0), "photos": r.photos, "measured": r.measured,
                "median_error": share(r.median_error), "worst_error": share(r.worst_error),
                "within_10_percent": r.within,
            }));
        }
        return;
    }
    let pct = |v: Option<f32>| v.map_or("–".to_string(), |v| format!("{:.1} %", v * 100.0));
    let mut table = Table::new(&[Align::Right; 6]);
    table.row([
        "实际距离",
        "照片",
        "测得",
        "中位误差",
        "最大误差",
        "10 % 以内",
    ]);
    table.row([
        "known",
        "photos",
        "measured",
        "median error",
        "worst error",
        "within 10 %",
    ]);
    for r in rows {
        table.row([
            format!("{} cm", rounded(r.known_cm, 10.0)),
            r.photos.to_string(),
            r.measured.to_string(),
            pct(r.median_error),
            pct(r.worst_error),
            format!("{}/{}", r.within, r.photos),
        ]);
    }
    table.lines().into_iter().for_each(say);
}
