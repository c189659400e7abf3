//! Face verification on real photos, and the live guide on frames made from them.

use crate::common;

use capture_kiosk::checks::measures::{self, SkinPatches};
use capture_kiosk::checks::{CheckId, CheckLimits};
use capture_kiosk::engine::PartShares;
use capture_kiosk::engine::{descriptor_distance, SAME_PERSON_DISTANCE};
use capture_kiosk::geometry::Point;
use capture_kiosk::guidance::{
    face_in_target, face_target, CameraModel, LightReading, LiveGuide, PartsReading, Prompt,
};
use common::*;
use image::{imageops, Rgb, RgbImage};

fn descriptor(name: &str) -> [f32; 128] {
    engine().describe(&photo(name)).unwrap().expect("a face")
}

#[test]
fn same_person_is_close_and_different_people_are_far() {
    let (a, b, c) = (
        descriptor("obama.jpg"),
        descriptor("obama2.jpg"),
        descriptor("obama3.jpg"),
    );
    let biden = descriptor("biden.jpg");
    for (x, y) in [(&a, &b), (&a, &c), (&b, &c)] {
        let d = descriptor_distance(x, y);
        assert!(d < SAME_PERSON_DISTANCE, "same person at {d}");
    }
    for x in [&a, &b, &c] {
        let d = descriptor_distance(x, &biden);
        assert!(d > SAME_PERSON_DISTANCE, "different people at {d}");
    }
}

#[test]
fn video_frames_of_one_man_match_and_other_portraits_do_not() {
    let (a, b) = (
        descriptor("franck_01829.jpg"),
        descriptor("franck_02221.jpg"),
    );
    let d = descriptor_distance(&a, &b);
    assert!(d < SAME_PERSON_DISTANCE, "same person at {d}");
    for other in ["cage.jpg", "audrey.jpg", "SeanConnery.jpg"] {
        let d = descriptor_distance(&a, &descriptor(other));
        assert!(d > SAME_PERSON_DISTANCE, "{other} at {d}");
    }
}

/// The face cut and shrunk to the ID card chip's 102×126 photo size.
fn chip_size(name: &str, x: u32, y: u32, w: u32) -> [f32; 128] {
    let img = photo(name);
    let h = w * 126 / 102;
    let cut = imageops::crop_imm(&img, x, y, w, h).to_image();
    let chip = imageops::resize(&cut, 102, 126, imageops::FilterType::Lanczos3);
    engine()
        .describe(&chip)
        .unwrap()
        .expect("a face in the chip-size photo")
}

#[test]
fn chip_size_references_still_separate_people_at_the_default_threshold() {
    // R-VERIFY compares a live capture with the 102×126 chip photo
    let franck = chip_size("franck_01829.jpg", 200, 60, 380);
    let obama = chip_size("obama.jpg", 150, 60, 560);
    let same = [
        descriptor_distance(&franck, &descriptor("franck_02221.jpg")),
        descriptor_distance(&obama, &descriptor("obama2.jpg")),
        descriptor_distance(&obama, &descriptor("obama3.jpg")),
    ];
    let different = [
        descriptor_distance(&franck, &descriptor("obama2.jpg")),
        descriptor_distance(&obama, &descriptor("biden.jpg")),
        descriptor_distance(&franck, &descriptor("cage.jpg")),
        descriptor_distance(&obama, &descriptor("SeanConnery.jpg")),
    ];
    assert!(same.iter().all(|d| *d < SAME_PERSON_DISTANCE), "{same:?}");
    assert!(
        different.iter().all(|d| *d > SAME_PERSON_DISTANCE),
        "{different:?}"
    );
}

/// A 640×480 frame with the portrait's face `face_px` wide, centred.
fn frame_with_face(face_px: f32) -> RgbImage {
    frame_with_face_at(face_px, 320.0, 190.0)
}

/// A 640×480 frame with the face `face_px` wide and the eyes' midpoint at (`x`, `y`).
fn frame_with_face_at(face_px: f32, x: f32, y: f32) -> RgbImage {
    frame_from(&levelled_base(), face_px, x, y)
}

/// A 640×480 frame with `base`'s face `face_px` wide and the eyes' midpoint at (`x`, `y`).
fn frame_from(base: &RgbImage, face_px: f32, x: f32, y: f32) -> RgbImage {
    sized_frame_from(base, (640, 480), face_px, x, y)
}

/// A `size` frame with `base`'s face `face_px` wide and the eyes' midpoint at (`x`, `y`).
fn sized_frame_from(base: &RgbImage, size: (u32, u32), face_px: f32, x: f32, y: f32) -> RgbImage {
    let s = engine().analyze_still(base).unwrap().subject.unwrap();
    let k = face_px / s.geometry.face_width;
    let scaled = imageops::resize(
        base,
        (base.width() as f32 * k) as u32,
        (base.height() as f32 * k) as u32,
        imageops::FilterType::Triangle,
    );
    let mut frame = RgbImage::from_pixel(size.0, size.1, Rgb([180, 180, 180]));
    let (ex, ey) = (s.geometry.eye_mid.x * k, s.geometry.eye_mid.y * k);
    imageops::replace(&mut frame, &scaled, (x - ex) as i64, (y - ey) as i64);
    frame
}

fn new_guide() -> LiveGuide {
    guide_for("chsi-graduation")
}

/// A live guide for exam profile `name` on a typical 640-px webcam.
fn guide_for(name: &str) -> LiveGuide {
    let (profile, spec) = profile(name);
    LiveGuide::new(
        engine().clone(),
        CameraModel::typical(640),
        profile,
        spec.glasses_allowed,
    )
}

/// A guide for `name` with one of its limits changed, to show what that limit does.
fn guide_with_limits(name: &str, change: impl FnOnce(&mut CheckLimits)) -> LiveGuide {
    let (profile, spec) = profile(name);
    let mut changed = profile.clone();
    change(&mut changed.limits);
    LiveGuide::new(
        engine().clone(),
        CameraModel::typical(640),
        &changed,
        spec.glasses_allowed,
    )
}

fn settle(guide: &mut LiveGuide, frame: &RgbImage, n: usize) -> Prompt {
    let mut last = Prompt::NoFace;
    for _ in 0..n {
        last = guide.frame(frame).unwrap().prompt;
    }
    last
}

#[test]
fn the_guide_asks_to_come_closer_then_back_then_holds() {
    let mut guide = new_guide();
    // a typical 640-px webcam at 60°: a 14 cm face is ~85 px wide at 90 cm
    let far = frame_with_face(45.0);
    assert!(matches!(
        settle(&mut guide, &far, 4),
        Prompt::MoveCloser { .. }
    ));
    let near = frame_with_face(160.0);
    assert!(matches!(
        settle(&mut guide, &near, 4),
        Prompt::MoveBack { .. }
    ));
    let good = frame_with_face(85.0);
    let g = {
        settle(&mut guide, &good, 4);
        guide.frame(&good).unwrap()
    };
    assert_eq!(g.prompt, Prompt::HoldStill, "{g:?}");
    assert!(g.steady_frames >= 1);
    let d = g.distance_cm.unwrap();
    assert!((80.0..=100.0).contains(&d), "{d}");
}

/// Puts a real face into the oval the live screen draws for `camera` and chsi-graduation on a
/// frame of `shown` size (the preview), as the candidate would: as wide as the oval was drawn
/// for, the eyes where it puts them, on a `judged`-size frame (the guide's). Asserts the face's
/// forehead and chin lie in the oval and fill most of its height, and that the guide says it
/// is in place at the middle of its distance window.
fn assert_a_face_in_the_oval_is_in_place(
    camera: CameraModel,
    shown: (u32, u32),
    judged: (u32, u32),
) {
    let (profile, spec) = profile("chsi-graduation");
    let target = face_target(&camera, profile.distance_cm, shown.0, shown.1).unwrap();
    let face = face_in_target(&target, judged.0, judged.1);
    let frame = sized_frame_from(
        &levelled_base(),
        judged,
        face.width,
        face.eyes_x,
        face.eyes_y,
    );
    // the real face's forehead top (mesh 10) and chin (152) against the oval's top and bottom
    let mesh = engine()
        .analyze_still(&frame)
        .unwrap()
        .subject
        .unwrap()
        .mesh;
    let (forehead, chin) = (mesh.point(10).y, mesh.point(152).y);
    let h = judged.1 as f32;
    let (top, bottom) = (
        (target.centre_down - target.height / 2.0) * h,
        (target.centre_down + target.height / 2.0) * h,
    );
    assert!(
        top < forehead && chin < bottom,
        "{top} {forehead} {chin} {bottom}"
    );
    let filled = (chin - forehead) / (bottom - top);
    assert!(
        (0.7..0.9).contains(&filled),
        "the face fills {filled} of the oval's height"
    );
    let mut guide = LiveGuide::new(engine().clone(), camera, profile, spec.glasses_allowed);
    settle(&mut guide, &frame, 4);
    let g = guide.frame(&frame).unwrap();
    assert_eq!(g.prompt, Prompt::HoldStill, "{g:?}");
    // at the middle of the window, not at an edge a step would cross
    let d = g.distance_cm.unwrap();
    assert!((85.0..=95.0).contains(&d), "{d}");
}

#[test]
fn a_face_that_fills_the_live_screens_oval_is_told_it_is_in_place() {
    assert_a_face_in_the_oval_is_in_place(CameraModel::typical(640), (640, 480), (640, 480));
}

#[test]
fn the_oval_drawn_on_a_16_9_preview_is_in_place_on_the_guides_larger_frame() {
    // a 1080p camera: the preview is 720 wide, the guide's frame decoded at half size
    assert_a_face_in_the_oval_is_in_place(CameraModel::typical(1920), (720, 405), (960, 540));
}

#[test]
fn one_odd_frame_does_not_change_the_prompt() {
    let mut guide = new_guide();
    let good = frame_with_face(85.0);
    assert_eq!(settle(&mut guide, &good, 4), Prompt::HoldStill);
    let empty = RgbImage::from_pixel(640, 480, Rgb([180, 180, 180]));
    assert_eq!(
        guide.frame(&empty).unwrap().prompt,
        Prompt::HoldStill,
        "one empty frame must not flicker"
    );
    assert_eq!(guide.frame(&good).unwrap().prompt, Prompt::HoldStill);
    assert!(matches!(settle(&mut guide, &empty, 3), Prompt::NoFace));
}

#[test]
fn the_guide_steers_the_candidate_into_the_frame() {
    let mut guide = new_guide();
    // the camera faces the candidate: a face on the image's left is a candidate standing to
    // their right, who must move to their left
    assert_eq!(
        settle(&mut guide, &frame_with_face_at(85.0, 170.0, 190.0), 4),
        Prompt::MoveLeft
    );
    assert_eq!(
        settle(&mut guide, &frame_with_face_at(85.0, 470.0, 190.0), 4),
        Prompt::MoveRight
    );
    assert_eq!(
        settle(&mut guide, &frame_with_face_at(85.0, 320.0, 300.0), 4),
        Prompt::MoveUp
    );
    let g = guide
        .frame(&frame_with_face_at(85.0, 320.0, 300.0))
        .unwrap();
    assert_eq!(
        (g.text.zh, g.text.en),
        ("请抬高一些（站直或调高座椅）", "please come up a little")
    );
}

#[test]
fn a_cap_is_prompted_live_by_the_face_parsing() {
    // glasses are allowed in this profile: the cap is the one thing to fix
    let mut guide = guide_for("gd-gaokao");
    // this profile's window is nearer than the graduation one's
    let cap = frame_from(&eval_photo("grace_hopper.jpg"), 95.0, 320.0, 190.0);
    assert_eq!(settle(&mut guide, &cap, 4), Prompt::TakeOffHat);
    assert!(Prompt::TakeOffHat.text().zh.contains("帽"));
    // the bare-headed portrait: the parsing, read again within 30 frames, finds no hat
    assert_eq!(
        settle(&mut guide, &frame_with_face(95.0), 36),
        Prompt::HoldStill
    );
}

#[test]
fn a_face_half_in_shadow_is_told_the_light_is_uneven_and_a_turned_head_to_look_straight() {
    // as the still check: the light is judged only on a head that faces the camera
    let mut guide = new_guide();
    let shadowed = frame_from(&eval_photo("mk_marc.png"), 85.0, 320.0, 190.0);
    assert_eq!(settle(&mut guide, &shadowed, 4), Prompt::UnevenLight);
    let mut guide = new_guide();
    let turned = frame_from(&eval_photo("faceapi_sample5_3.png"), 75.0, 320.0, 190.0);
    assert_eq!(settle(&mut guide, &turned, 4), Prompt::LookStraight);
    // the still check on that frame: its light reads uneven but is not judged, the pose fails
    let (profile, _) = profile("chsi-graduation");
    let still = check(&turned, "chsi-graduation");
    let light = still.get(CheckId::LightUniformity).expect("reported");
    let uneven = f64::from(profile.limits.min_light_uniformity);
    assert!(light.value.is_some_and(|v| v < uneven), "{light:?}");
    assert!(light.ok && light.limit.is_none(), "{light:?}");
    assert!(!still.get(CheckId::HeadPose).expect("reported").ok);
}

#[test]
fn a_bowed_head_is_told_to_raise_the_chin_and_a_raised_one_to_lower_it() {
    // as the still check: the axis furthest past its limit says which way, in the same words
    for (file, prompt, reason) in [
        ("faceapi_sample6_3.png", Prompt::RaiseChin, "head bowed"),
        ("tablerui_m39_cap.png", Prompt::LowerChin, "head raised"),
    ] {
        let mut guide = new_guide();
        let frame = frame_from(&eval_photo(file), 85.0, 320.0, 190.0);
        assert_eq!(settle(&mut guide, &frame, 4), prompt, "{file}");
        let still = check(&frame, "chsi-graduation");
        let pose = still.get(CheckId::HeadPose).expect("reported");
        assert!(!pose.ok, "{file}: {pose:?}");
        let said = pose.reason.as_ref().map(|r| r.en);
        assert!(said.is_some_and(|s| s.contains(reason)), "{file}: {pose:?}");
    }
    // a head tilted towards a shoulder: the level portrait turned 15 degrees in the frame
    let base = levelled_base();
    let middle = Point::new(base.width() as f32 / 2.0, base.height() as f32 / 2.0);
    let mut guide = new_guide();
    let tilted = frame_from(&rotate(&base, middle, 15.0), 85.0, 320.0, 190.0);
    assert_eq!(settle(&mut guide, &tilted, 4), Prompt::StraightenHead);
}

#[test]
fn teeth_between_lips_the_plain_mesh_draws_closed_are_prompted_live() {
    // talk with teeth: on the still the plain mesh's lips meet (gap 0.07) and the teeth read
    // no lighter than the lips; the attention mesh's lips, read aside with the parsing, part
    // (0.16). Without its limit the guide would let the candidate through, but for the
    // parsing, which sees a sliver of these teeth too and is lifted here to show it
    let talk = frame_from(&eval_photo("cap13_v014.png"), 95.0, 320.0, 190.0);
    let mut guide = guide_for("gd-gaokao");
    assert_eq!(settle(&mut guide, &talk, 6), Prompt::CloseLips);
    let no_parsing = |l: &mut CheckLimits| l.max_parsed_mouth_interior = f32::INFINITY;
    let mut guide = guide_with_limits("gd-gaokao", no_parsing);
    assert_eq!(settle(&mut guide, &talk, 6), Prompt::CloseLips);
    let mut without = guide_with_limits("gd-gaokao", |l| {
        no_parsing(l);
        l.max_refined_gap = f32::INFINITY;
    });
    assert_ne!(settle(&mut without, &talk, 6), Prompt::CloseLips);
    // the closed-lipped portrait: the attention mesh's lips are together
    let mut guide = guide_for("gd-gaokao");
    assert_eq!(
        settle(&mut guide, &frame_with_face(90.0), 6),
        Prompt::HoldStill
    );
}

#[test]
fn teeth_told_by_their_colour_are_prompted_live_as_the_still_check_fails_them() {
    // a smile whose teeth are no lighter than the lips and whose lips part less than either
    // gap limit: the reading aside sees the teeth by their colour, as the still check does
    // (the parsing, which may see a sliver of these teeth too, is lifted on both sides: it
    // is asked before the colour)
    let no_parsing = |l: &mut CheckLimits| l.max_parsed_mouth_interior = f32::INFINITY;
    let smile = frame_from(&eval_photo("tp_franck_02221.jpg"), 95.0, 320.0, 190.0);
    let still = check_with_limits(&smile, "gd-gaokao", no_parsing);
    let mouth = still.get(CheckId::MouthClosed).expect("reported");
    assert_eq!(mouth.detail["by_teeth_tint"], true, "{mouth:?}");
    let mut guide = guide_with_limits("gd-gaokao", no_parsing);
    assert_eq!(settle(&mut guide, &smile, 6), Prompt::CloseLips);
    let mut without = guide_with_limits("gd-gaokao", |l| {
        no_parsing(l);
        l.max_teeth_tint_share = f32::INFINITY;
    });
    assert_ne!(settle(&mut without, &smile, 6), Prompt::CloseLips);
    // as shipped, the guide prompts the smile either way
    let mut guide = guide_for("gd-gaokao");
    assert_eq!(settle(&mut guide, &smile, 6), Prompt::CloseLips);
}

#[test]
fn lips_the_refined_mesh_reads_together_are_not_told_to_close() {
    // a moustache and stubble: the plain mesh parts the lips (0.13), the attention mesh,
    // read aside, draws them together. Without that reading the guide would ask him to close
    // lips that are closed, and the still check would pass him
    let frame = frame_from(&eval_photo("pdr_ayo.png"), 78.0, 320.0, 190.0);
    let mut guide = guide_for("gd-gaokao");
    assert_eq!(settle(&mut guide, &frame, 6), Prompt::HoldStill);
    let mouth = check(&frame, "gd-gaokao");
    let mouth = mouth.get(CheckId::MouthClosed).expect("reported");
    assert!(mouth.ok, "{mouth:?}");
    let mut without = guide_with_limits("gd-gaokao", |l| l.max_refined_gap_lips_together = 0.0);
    assert_eq!(settle(&mut without, &frame, 6), Prompt::CloseLips);
}

#[test]
fn closed_lips_whose_edges_read_as_teeth_are_not_told_to_close_once_read_aside() {
    // stubble under heavy frames: between the plain mesh's inner lips the lip's light edge
    // reads as teeth; the reading aside looks between the attention mesh's, as the still
    // check does, and finds none
    let frame = frame_from(&eval_photo("nowui_ryan_glasses.png"), 95.0, 320.0, 190.0);
    let mut guide = guide_for("gd-gaokao");
    assert_eq!(settle(&mut guide, &frame, 6), Prompt::HoldStill);
    let still = check(&frame, "gd-gaokao");
    let mouth = still.get(CheckId::MouthClosed).expect("reported");
    assert!(mouth.ok, "{mouth:?}");
    // between the plain mesh's lips, which every frame has, the guide would have seen teeth
    let subject = engine().analyze_still(&frame).unwrap().subject.unwrap();
    let skin = SkinPatches::new(&frame, &subject.mesh);
    let plain = measures::teeth_share(&frame, &subject.mesh, &skin, None);
    let (gaokao, _) = profile("gd-gaokao");
    assert!(plain > gaokao.limits.max_teeth_share, "{plain}");
}

#[test]
fn a_smile_begun_after_the_reading_aside_is_told_to_close_at_once() {
    // the reading aside (one frame in 30) found his lips together under the moustache; a
    // smile with teeth a few frames later is the plain mesh's to judge on its own frames, or
    // the countdown would run on to a photo the still check fails
    let closed = frame_from(&eval_photo("pdr_ayo.png"), 78.0, 320.0, 190.0);
    let smile = frame_from(
        &eval_photo("sbagency7_team3_glasses.png"),
        84.0,
        320.0,
        190.0,
    );
    let mut guide = guide_for("gd-gaokao");
    assert_eq!(settle(&mut guide, &closed, 6), Prompt::HoldStill);
    assert_eq!(settle(&mut guide, &smile, 6), Prompt::CloseLips);
    let still = check(&smile, "gd-gaokao");
    assert!(!still.get(CheckId::MouthClosed).expect("reported").ok);
}

#[test]
fn hair_down_one_cheek_is_not_told_the_light_is_uneven_once_read_aside() {
    // a side-swept fringe down her right cheek, evenly lit: the still check reads the light
    // on the parsing's skin and passes it
    let frame = frame_from(&eval_photo("tablerui_f8_bangs.png"), 88.0, 320.0, 190.0);
    let still = check(&frame, "gd-gaokao");
    let light = still.get(CheckId::LightUniformity).expect("reported");
    assert!(light.ok, "{light:?}");
    // as the camera worker runs it: until the parsing answers, the skin boxes read the hair
    // as shadow
    let mut guide = guide_for("gd-gaokao");
    guide.far_look_aside();
    guide.frame(&frame).unwrap();
    let asked = guide
        .wants_parts_look()
        .expect("the first face is parsed aside");
    assert_eq!(settle(&mut guide, &frame, 4), Prompt::UnevenLight);
    let parsing = engine()
        .parts(&frame, &asked.mesh, &mut Vec::new())
        .unwrap();
    let light = LightReading::read(&frame, &asked.mesh, &parsing);
    assert!(light.is_some(), "the parsing finds skin on both sides");
    guide.parts_found(PartsReading {
        shares: parsing.shares(),
        light,
        highlights: None,
        refined: None,
        frame: asked.frame,
        candidate: asked.candidate,
    });
    // the light is even on her skin; the fringe over her brow is what she is told of
    assert_eq!(settle(&mut guide, &frame, 4), Prompt::HairOffBrows);
}

#[test]
fn a_parsing_answered_for_the_last_candidate_does_not_count_for_the_next() {
    let mut guide = guide_for("gd-gaokao");
    // as the camera worker runs it: the parsing is asked for, and answered later
    guide.far_look_aside();
    let cap = frame_from(&eval_photo("grace_hopper.jpg"), 95.0, 320.0, 190.0);
    guide.frame(&cap).unwrap();
    let asked = guide
        .wants_parts_look()
        .expect("the first face is parsed aside");
    // she leaves before the answer comes back; then it arrives
    let empty = RgbImage::from_pixel(640, 480, Rgb([180, 180, 180]));
    settle(&mut guide, &empty, 3);
    guide.parts_found(PartsReading {
        shares: PartShares {
            hat_above_brows: 0.6,
            ..Default::default()
        },
        light: None,
        highlights: None,
        refined: None,
        frame: asked.frame,
        candidate: asked.candidate,
    });
    // the next candidate, bare-headed, is asked about at once and never told of her hat
    let bare = frame_with_face(95.0);
    guide.frame(&bare).unwrap();
    assert!(guide.wants_parts_look().is_some());
    for _ in 0..6 {
        assert_ne!(guide.frame(&bare).unwrap().prompt, Prompt::TakeOffHat);
    }
}
