//! `kiosk camera …` end to end: snapshots of simulated scenes, calibration from a frame at a
//! known distance, distance estimates from the calibrated profile, and an absent camera.

use crate::common;

use common::{run_kiosk, scratch};
use std::path::PathBuf;

fn kiosk(args: &[&str]) -> std::process::Output {
    run_kiosk(args)
}

fn tmp(name: &str) -> PathBuf {
    scratch("cli-camera", name)
}

#[test]
fn calibrate_on_one_frame_then_measure_another() {
    // the approach scene goes from 150 cm to 40 cm over 60 frames: frame 30 is at 95 cm,
    // frame 45 at 67.5 cm
    let (at95, at67) = (tmp("at95.png"), tmp("at67.png"));
    for (frame, path) in [("30", &at95), ("45", &at67)] {
        let o = kiosk(&[
            "camera",
            "snapshot",
            "--sim",
            "approach",
            "--frame",
            frame,
            "-o",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(image::image_dimensions(path).unwrap(), (640, 480));
    }
    let profile = tmp("calibrated.toml");
    let o = kiosk(&[
        "camera",
        "calibrate",
        "--distance-cm",
        "95",
        "-o",
        profile.to_str().unwrap(),
        at95.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&profile).unwrap();
    let focal: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("focal_px = "))
        .unwrap()
        .parse()
        .unwrap();
    // the simulated camera's true focal length is 554.3 px
    assert!((focal - 554.3).abs() / 554.3 < 0.1, "{focal}");
    let o = kiosk(&[
        "camera",
        "distance",
        "--camera",
        profile.to_str().unwrap(),
        "--json",
        at67.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = v["distance_cm"].as_f64().unwrap();
    assert!((d - 67.5).abs() / 67.5 < 0.15, "{d}");
}

#[test]
fn an_absent_camera_is_named_and_a_faceless_photo_says_so() {
    let o = kiosk(&[
        "camera",
        "snapshot",
        "--device",
        "57",
        "-o",
        tmp("none.jpg").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/dev/video57"));
    let o = kiosk(&["camera", "list"]);
    assert!(o.status.success());
    let blank = tmp("blank.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([90, 90, 90]))
        .save(&blank)
        .unwrap();
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/hardware/cameras/simulated-640.toml"
    );
    let o = kiosk(&[
        "camera",
        "distance",
        "--camera",
        profile,
        blank.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no face"));
}
