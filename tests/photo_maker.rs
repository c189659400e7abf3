//! The photo maker on a real capture: every shipped spec's photo validates against its own
//! spec when read back, the background is painted without a halo, and print sheets render.

use crate::common;

use capture_kiosk::imaging::{decode_image, rgb_to_lab, DecodeLimits};
use capture_kiosk::photo::{make_photo, sheet};
use common::*;

#[test]
fn every_shipped_spec_is_made_and_passes_its_own_validation() {
    let base = levelled_base();
    let analysis = engine().analyze_still(&base).unwrap();
    let profile = catalog().profile("chsi-graduation").unwrap();
    let out_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("photos");
    std::fs::create_dir_all(&out_dir).unwrap();
    for spec in catalog().specs.values() {
        let made = make_photo(engine(), &base, &analysis, spec, profile)
            .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        std::fs::write(out_dir.join(format!("{}.jpg", spec.name)), &made.jpeg).unwrap();
        let bad: Vec<_> = made.measures.iter().filter(|m| !m.ok).collect();
        assert!(made.valid, "{}: {:?}", spec.name, bad);
        assert!(made.quality >= spec.jpeg_quality_min, "{}", spec.name);
        let [lo, hi] = spec.file_bytes();
        assert!(
            (lo..=hi).contains(&made.jpeg.len()),
            "{}: {} bytes",
            spec.name,
            made.jpeg.len()
        );
        // geometry windows are really measured on the output, not assumed
        let names: Vec<&str> = made.measures.iter().map(|m| m.name).collect();
        assert!(
            names.contains(&"face_count") && names.contains(&"dpi"),
            "{names:?}"
        );
    }
}

#[test]
fn the_painted_background_leaves_no_halo_of_the_old_one() {
    let base = levelled_base();
    let analysis = engine().analyze_still(&base).unwrap();
    let profile = catalog().profile("chsi-graduation").unwrap();
    let spec = catalog().spec("chsi").unwrap();
    let made = make_photo(engine(), &base, &analysis, spec, profile).unwrap();
    let img = decode_image(&made.jpeg, DecodeLimits::default()).unwrap();
    let target = rgb_to_lab(spec.background.map(|c| c as f32));
    let is_bg = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0.map(|c| c as f32);
        capture_kiosk::checks::measures::delta_e(rgb_to_lab(p), target) < 8.0
    };
    // walk in from both sides on rows through the head: the pixels just before the first
    // non-background pixel must already be the new colour, not a fringe of the old wall
    let mut fringe = 0;
    let mut rows = 0;
    for y in (120..400).step_by(10) {
        for leftwards in [false, true] {
            let xs: Vec<u32> = if leftwards {
                (0..img.width()).rev().collect()
            } else {
                (0..img.width()).collect()
            };
            let Some(edge) = xs.iter().position(|&x| !is_bg(x, y)) else {
                continue;
            };
            if edge < 6 {
                continue;
            }
            rows += 1;
            if !(1..=4).all(|k| is_bg(xs[edge - k - 1], y)) {
                fringe += 1;
            }
        }
    }
    assert!(rows > 20, "{rows}");
    assert_eq!(fringe, 0, "rows with a fringe: {fringe} of {rows}");
}

#[test]
fn a_mixed_print_sheet_renders_with_cut_marks() {
    let base = levelled_base();
    let analysis = engine().analyze_still(&base).unwrap();
    let profile = catalog().profile("chsi-graduation").unwrap();
    let made = make_photo(
        engine(),
        &base,
        &analysis,
        catalog().spec("chsi").unwrap(),
        profile,
    )
    .unwrap();
    let photo = decode_image(&made.jpeg, DecodeLimits::default()).unwrap();
    let plan = sheet::plan_sheet("1in*8+2in*4", "6in", 300).unwrap();
    let img = sheet::render_sheet(&plan, &photo);
    assert_eq!(img.dimensions(), (1800, 1200));
    img.save(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sheet.png"))
        .unwrap();
    // a cut mark continues each photo's top edge into the gap on its left
    for p in &plan.placements {
        let mark = img.get_pixel(p.x - 3, p.y).0;
        assert_eq!(mark, [90, 90, 90], "no cut mark at {p:?}");
        assert_eq!(
            img.get_pixel(p.x - 3, p.y + p.h / 2).0,
            [255, 255, 255],
            "gap not white at {p:?}"
        );
    }
}
