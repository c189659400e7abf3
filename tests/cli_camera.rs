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

/// Saves frame `frame` of the simulated approach (150 cm to 40 cm over 60 frames) to `path`.
fn approach_frame(frame: &str, path: &std::path::Path) {
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
}

#[test]
fn calibrate_on_one_frame_then_measure_another() {
    // the approach scene goes from 150 cm to 40 cm over 60 frames: frame 30 is at 95 cm,
    // frame 45 at 67.5 cm
    let (at95, at67) = (tmp("at95.png"), tmp("at67.png"));
    for (frame, path) in [("30", &at95), ("45", &at67)] {
        approach_frame(frame, path);
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

#[test]
fn estimates_are_held_against_photos_at_known_distances() {
    // the approach scene: frame 30 at 95 cm, 45 at 67.5 cm, 50 at 58.3 cm
    let dir = tmp("known");
    std::fs::create_dir_all(&dir).unwrap();
    for frame in ["30", "45", "50"] {
        approach_frame(frame, &dir.join(format!("f{frame}.png")));
    }
    let known = dir.join("known.csv");
    std::fs::write(
        &known,
        "# the simulated approach\nfile,distance_cm\nf45.png,67.5\nf30.png,95\nf50.png,58.3\n",
    )
    .unwrap();
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/hardware/cameras/simulated-640.toml"
    );
    let known_arg = known.to_str().unwrap();
    let run = |json: bool| {
        let mut args = vec![
            "camera", "distance", "--camera", profile, "--known", known_arg,
        ];
        if json {
            args.push("--json");
        }
        kiosk(&args)
    };
    let o = run(true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // three photos in the file's order, then one summary per distance, nearest first
    assert_eq!(lines.len(), 6, "{lines:?}");
    for photo in &lines[..3] {
        let known = photo["known_cm"].as_f64().unwrap();
        let error = photo["error"].as_f64().unwrap();
        let estimate = photo["distance_cm"].as_f64().unwrap();
        assert!(error.abs() < 0.15, "{photo}");
        assert!(
            ((estimate - known) / known - error).abs() < 0.003,
            "{photo}"
        );
    }
    assert_eq!(lines[2]["known_cm"], 58.3, "written as the file has it");
    let summary: Vec<f64> = lines[3..]
        .iter()
        .map(|s| s["known_cm"].as_f64().unwrap())
        .collect();
    assert_eq!(summary, [58.3, 67.5, 95.0]);
    for (row, photo) in lines[3..].iter().zip([&lines[2], &lines[0], &lines[1]]) {
        assert_eq!(
            (row["photos"].as_u64(), row["measured"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(row["median_error"], photo["error"].as_f64().unwrap().abs());
        let within = photo["error"].as_f64().unwrap().abs() <= 0.1;
        assert_eq!(row["within_10_percent"], u64::from(within), "{row}");
    }
    // a photo listed twice at one distance and one that cannot be read: both count among
    // that distance's photos, the unreadable one named by its line and the run failed
    std::fs::write(
        &known,
        "file,distance_cm\nf30.png,95\nf30.png,95\nmissing.png,95\n",
    )
    .unwrap();
    let o = run(false);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 4"));
    let text = String::from_utf8_lossy(&o.stdout);
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("95 cm"))
        .unwrap_or_else(|| panic!("no row for 95 cm in {text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    // 95 cm | 3 photos | 2 measured | median | worst | within/photos
    assert_eq!((cells[2], cells[3]), ("3", "2"), "{row}");
    assert!(cells.last().is_some_and(|c| c.ends_with("/3")), "{row}");
    assert!(text.contains("within 10 %"), "{text}");
    // a distance no kiosk sees is refused with its line
    std::fs::write(&known, "file,distance_cm\nf30.png,950\n").unwrap();
    let o = run(false);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2"));
}
