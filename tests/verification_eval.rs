//! `kiosk eval-verify` and the ID card chip on real photos.

use crate::common;

use capture_kiosk::engine::{descriptor_distance, SAME_PERSON_DISTANCE};
use capture_kiosk::reader::card::PHOTO_LEN;
use capture_kiosk::verification::{compressed_chip, id_card_chip, CHIP_HEIGHT, CHIP_WIDTH};
use common::*;

#[test]
fn a_card_chip_is_framed_like_the_card_and_its_face_is_found() {
    let img = photo("obama3.jpg");
    let face = engine().detect(&img).unwrap().remove(0);
    let chip = id_card_chip(&img, &face);
    assert_eq!(chip.dimensions(), (CHIP_WIDTH, CHIP_HEIGHT));
    let found = engine().detect(&chip).unwrap();
    let f = found.first().expect("a face in the chip");
    // GA 461 framing: eye centres about a quarter of the width apart, a little above the middle
    let eyes = f.points[0].distance(f.points[1]);
    assert!((22.0..32.0).contains(&eyes), "eyes {eyes} px apart");
    let eye_y = (f.points[0].y + f.points[1].y) * 0.5;
    assert!((45.0..70.0).contains(&eye_y), "eye line at {eye_y}");
}

#[test]
fn eval_verify_reports_the_error_rates_of_labelled_pairs() {
    let p = |n: &str| photo_path(n).display().to_string();
    let same = [
        ("obama.jpg", "obama2.jpg"),
        ("obama3.jpg", "obama.jpg"),
        ("obama2.jpg", "obama3.jpg"),
        ("franck_02221.jpg", "franck_01829.jpg"),
    ];
    let different = [
        ("obama3.jpg", "biden.jpg"),
        ("franck_02221.jpg", "cage.jpg"),
        ("audrey.jpg", "SeanConnery.jpg"),
        ("cage.jpg", "obama2.jpg"),
        ("biden.jpg", "SeanConnery.jpg"),
    ];
    let mut csv = String::from("# made by the test\na,b,label,note\n");
    for (a, b) in same {
        csv.push_str(&format!("{},{},same,\"one man\"\n", p(a), p(b)));
    }
    for (a, b) in different {
        csv.push_str(&format!("{},{},different\n", p(a), p(b)));
    }
    let path = scratch("eval-verify", "pairs.csv");
    std::fs::write(&path, csv).unwrap();
    let out = run_kiosk(&["eval-verify", "--json", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["same_pairs"], 4);
    assert_eq!(v["different_pairs"], 5);
    assert_eq!(v["pairs"].as_array().map(Vec::len), Some(9));
    for condition in ["full", "chip"] {
        let c = &v[condition];
        assert_eq!(c["equal_error_rate"], 0.0, "{condition}: {c}");
        assert_eq!(c["false_accept"], 0.0, "{condition}: {c}");
        assert_eq!(c["false_reject"], 0.0, "{condition}: {c}");
        assert_eq!(c["same_without_face"], 0, "{condition}: {c}");
        let t = c["threshold_at_equal_error"].as_f64().unwrap();
        assert!(t > 0.4 && t < 0.8, "{condition}: threshold {t}");
    }
    // every pair has its distances, the chip's from the chip-sized first photo
    for pair in v["pairs"].as_array().unwrap() {
        assert!(pair["full"].as_f64().is_some() && pair["chip"].as_f64().is_some());
    }
}

#[test]
fn eval_verify_names_the_line_of_a_bad_label() {
    let path = scratch("eval-verify", "bad.csv");
    std::fs::write(&path, "a,b,label\nx.jpg,y.jpg,maybe\n").unwrap();
    let out = run_kiosk(&["eval-verify", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("maybe"), "{err}");
}

/// The chip as the card stores it: cut at the card's framing, 102×126, in the card's 1 KB.
fn card_photo(name: &str) -> image::RgbImage {
    let img = eval_photo(name);
    let face = engine().detect(&img).unwrap().remove(0);
    compressed_chip(&id_card_chip(&img, &face), PHOTO_LEN).expect("fits in the card")
}

fn distance(a: &image::RgbImage, b: &image::RgbImage) -> f32 {
    let d = |img| engine().describe(img).unwrap().expect("a face");
    descriptor_distance(&d(a), &d(b))
}

#[test]
fn a_card_sized_chip_is_recognised_against_another_frame_of_the_same_woman() {
    // Refused at 0.643 when the chip was warped straight from the 102×126 pixels with one
    // descriptor; 0.584 once the face is resampled to the chip's scale (Lanczos) and the
    // mirrored chip's descriptor averaged in; 0.54 with the six zoomed and mirrored chips
    // (`kiosk eval-verify`'s chip in 1 KB for this pair).
    let chip = card_photo("fer_woman2_001.png");
    let same = distance(&chip, &eval_photo("fer_woman2_007.png"));
    assert!(same < SAME_PERSON_DISTANCE, "same woman at {same}");
    // and still apart from other young women with long dark hair
    for other in ["WolfgangLanger_Pexels_011.png", "clm_kim1_crop.jpg"] {
        let d = distance(&chip, &eval_photo(other));
        assert!(d > SAME_PERSON_DISTANCE, "{other} at {d}");
    }
}
