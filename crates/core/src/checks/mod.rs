//! The checks: a fixed vocabulary of measures, each with its number, its limit and, when it
//! fails, a reason and a fix in Chinese and English that a candidate understands.
//!
//! Architecture invariant: pure; works on an image buffer and the engine's analysis.

mod balance;
pub mod calibration;
pub mod exposure;
mod hair_and_headwear;
mod labels;
pub mod measures;
mod mouth_closed;
pub mod pose;
mod reasons;
mod second_measures;

use crate::catalog::{ExamProfile, PhotoSpec};
use crate::engine::{StillAnalysis, Subject};
use crate::framing::{framing_for, Framing};
use crate::imaging::lab_of;
use image::RgbImage;
use measures::SkinPatches;
use second_measures::SecondMeasure;
use serde::{Deserialize, Serialize};

pub use crate::catalog::CheckLimits;

pub use reasons::Reason;

/// The public check vocabulary. Names are part of the command line's JSON interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    FaceCount,
    FaceSize,
    FaceInFrame,
    HeadPose,
    EyesOpen,
    MouthClosed,
    Glasses,
    Glare,
    HairOcclusion,
    Headwear,
    LightUniformity,
    Exposure,
    Sharpness,
    Background,
    ClothingContrast,
    Resolution,
}

impl CheckId {
    pub const ALL: [CheckId; 16] = [
        CheckId::FaceCount,
        CheckId::FaceSize,
        CheckId::FaceInFrame,
        CheckId::HeadPose,
        CheckId::EyesOpen,
        CheckId::MouthClosed,
        CheckId::Glasses,
        CheckId::Glare,
        CheckId::HairOcclusion,
        CheckId::Headwear,
        CheckId::LightUniformity,
        CheckId::Exposure,
        CheckId::Sharpness,
        CheckId::Background,
        CheckId::ClothingContrast,
        CheckId::Resolution,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::FaceCount => "face_count",
            CheckId::FaceSize => "face_size",
            CheckId::FaceInFrame => "face_in_frame",
            CheckId::HeadPose => "head_pose",
            CheckId::EyesOpen => "eyes_open",
            CheckId::MouthClosed => "mouth_closed",
            CheckId::Glasses => "glasses",
            CheckId::Glare => "glare",
            CheckId::HairOcclusion => "hair_occlusion",
            CheckId::Headwear => "headwear",
            CheckId::LightUniformity => "light_uniformity",
            CheckId::Exposure => "exposure",
            CheckId::Sharpness => "sharpness",
            CheckId::Background => "background",
            CheckId::ClothingContrast => "clothing_contrast",
            CheckId::Resolution => "resolution",
        }
    }
}

/// The allowed range of a measure; an open side is `None`. No limit at all: informational.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Limit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Limit {
    pub fn at_least(v: f32) -> Self {
        Self {
            min: Some(round(v)),
            max: None,
        }
    }
    pub fn at_most(v: f32) -> Self {
        Self {
            min: None,
            max: Some(round(v)),
        }
    }
    pub fn between(a: f32, b: f32) -> Self {
        Self {
            min: Some(round(a)),
            max: Some(round(b)),
        }
    }
    pub fn admits(&self, v: f32) -> bool {
        let v = v as f64;
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

fn round(v: f32) -> f64 {
    (v as f64 * 1000.0).round() / 1000.0
}

/// One check's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub id: CheckId,
    pub ok: bool,
    /// The measured number; `None` when it could not be measured (no face).
    pub value: Option<f64>,
    /// `None`: the profile does not apply this check (informational).
    pub limit: Option<Limit>,
    /// Why it failed and what to do; `None` when it passed.
    pub reason: Option<Reason>,
    /// Extra numbers behind the value (pose angles, clipping share, …).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// All checks on one photo.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub ok: bool,
    pub faces: usize,
    pub checks: Vec<CheckResult>,
}

impl CheckReport {
    pub fn get(&self, id: CheckId) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }
    pub fn failed(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

struct Builder {
    checks: Vec<CheckResult>,
}

impl Builder {
    fn push(
        &mut self,
        id: CheckId,
        value: f32,
        limit: Option<Limit>,
        direction: impl Fn(f32) -> &'static str,
    ) -> &mut CheckResult {
        let ok = limit.is_none_or(|l| l.admits(value));
        let reason = (!ok).then(|| reasons::reason(id, direction(value)));
        self.checks.push(CheckResult {
            id,
            ok,
            value: Some(round(value)),
            limit,
            reason,
            detail: Default::default(),
        });
        self.checks.last_mut().expect("just pushed")
    }
    fn unmeasured(&mut self, id: CheckId) {
        self.checks.push(CheckResult {
            id,
            ok: false,
            value: None,
            limit: None,
            reason: Some(reasons::reason(id, "unmeasured")),
            detail: Default::default(),
        });
    }
}

/// Runs every check on a capture for a profile's spec. Face size and framing are judged on the
/// maker's plan for this capture: framing that the crop fixes is not a failure.
pub fn evaluate(
    img: &RgbImage,
    analysis: &StillAnalysis,
    spec: &PhotoSpec,
    profile: &ExamProfile,
) -> CheckReport {
    let lim = &profile.limits;
    let mut b = Builder {
        checks: Vec::with_capacity(16),
    };
    let faces = analysis.faces.len();
    b.push(
        CheckId::FaceCount,
        faces as f32,
        Some(Limit::between(1.0, 1.0)),
        |v| if v < 1.0 { "none" } else { "several" },
    );

    let subject = analysis.subject.as_ref();
    let framing = framing_for(analysis, spec, profile);
    match (subject, framing.as_ref()) {
        (Some(s), Some(f)) => face_checks(&mut b, img, s, f, spec, profile),
        _ => {
            for id in CheckId::ALL
                .iter()
                .filter(|id| !matches!(id, CheckId::FaceCount | CheckId::Resolution))
            {
                b.unmeasured(*id);
            }
        }
    }
    let short = img.width().min(img.height()) as f32;
    b.push(
        CheckId::Resolution,
        short,
        Some(Limit::at_least(lim.min_image_side as f32)),
        |_| "low",
    );
    // keep the vocabulary's order whatever order the measures ran in
    b.checks
        .sort_by_key(|c| CheckId::ALL.iter().position(|i| *i == c.id));
    let ok = b.checks.iter().all(|c| c.ok);
    CheckReport {
        ok,
        faces,
        checks: b.checks,
    }
}

/// Yaw past which the nose starts to hide the far eye (the mesh reads a face in profile at
/// about 40°).
const FAR_EYE_HIDDEN_YAW_DEG: f32 = 35.0;

/// A second measure beside the check's own (the face parsing's share of a class, the share of
/// the iris shown, the refined lip gap): kept in its detail, and the check fails with
/// `direction`'s reason when the value is past `limit` (where `applies`). `kiosk eval`
/// balances each second limit from the keys it writes (its value, its limit, and whether it
/// alone failed the check).
fn apply_second(
    r: &mut CheckResult,
    measure: SecondMeasure,
    value: f32,
    limit: f32,
    applies: bool,
    direction: &str,
) {
    let (value_key, limit_key, decided_key) = measure.keys();
    r.detail.insert(value_key.into(), round(value).into());
    r.detail.insert(limit_key.into(), round(limit).into());
    let past = if measure.high_is_bad() {
        value > limit
    } else {
        value < limit
    };
    let decides = applies && r.ok && past;
    r.detail.insert(decided_key.into(), decides.into());
    if decides {
        r.ok = false;
        r.reason = Some(reasons::reason(r.id, direction));
    }
}

fn apply_parsed(r: &mut CheckResult, share: f32, limit: f32, applies: bool, direction: &str) {
    apply_second(
        r,
        SecondMeasure::FaceParsing,
        share,
        limit,
        applies,
        direction,
    );
}

/// The detail of a check that could not judge the photo (another check fails it instead).
pub(crate) const NOT_APPLIED: &str = "not_applied";

/// A colour measure left to `exposure` on a washed-out face says so in its detail.
fn not_applied_on_washed_out_face(r: &mut CheckResult) {
    r.detail
        .insert(NOT_APPLIED.into(), "face over-exposed: see exposure".into());
}

fn face_checks(
    b: &mut Builder,
    img: &RgbImage,
    s: &Subject,
    f: &Framing,
    spec: &PhotoSpec,
    profile: &ExamProfile,
) {
    let lim = &profile.limits;
    let mesh = &s.mesh;
    let skin = SkinPatches::new(img, mesh);
    // an analysis made for geometry only has no parsing: its measures are then not applied
    let parts = s.parsing.as_ref().map(|p| p.shares());
    let light = exposure::ExposureReading::read(img, mesh, &skin, s.parsing.as_ref());
    // a face washed out all over is one problem (exposure), not also a glare, hair, hat or
    // teeth problem to the colour measures: skin burnt to white no longer looks like skin to
    // them (the parsing still judges a hat, by its shape)
    let washed_out = light.washed_out(lim);

    // face size: how much the maker must enlarge the face to reach the spec's size
    let needed = (f.scale * s.geometry.face_width / lim.max_upscale).ceil();
    b.push(
        CheckId::FaceSize,
        s.geometry.face_width,
        Some(Limit::at_least(needed)),
        |_| "small",
    );

    let inside = if s.geometry.crown_cut {
        0.0
    } else {
        f.inside_share
    };
    let r = b.push(
        CheckId::FaceInFrame,
        inside,
        Some(Limit::at_least(lim.min_frame_inside)),
        |_| "cut",
    );
    r.detail.insert("crop_feasible".into(), f.feasible.into());
    if r.ok && !f.feasible {
        r.ok = false;
        r.reason = Some(reasons::reason(CheckId::FaceInFrame, "geometry"));
    }

    let p = s.pose;
    let worst = pose::WorstAxis::of(&p, lim);
    let r = b.push(
        CheckId::HeadPose,
        worst.degrees.abs(),
        Some(Limit::at_most(worst.limit)),
        move |_| worst.fault.reason_key(),
    );
    for (k, v) in [("yaw", p.yaw), ("pitch", p.pitch), ("roll", p.roll)] {
        r.detail.insert(k.into(), round(v).into());
    }
    // the value is the worst axis's angle, pitch measured from this level
    r.detail.insert("axis".into(), worst.axis().into());
    r.detail
        .insert("pitch_level".into(), round(lim.pitch_level_deg).into());

    let r = b.push(
        CheckId::EyesOpen,
        s.eye_openness,
        Some(Limit::at_least(lim.min_eye_openness)),
        |_| "closed",
    );
    r.detail
        .insert("right".into(), round(s.eyes.right_open).into());
    r.detail
        .insert("left".into(), round(s.eyes.left_open).into());
    // a laughing squint or a gaze cast down leaves the lids' corners wide apart but shows
    // little of the iris between them. The attention mesh draws such lids closer together
    // than the iris model does, so its share decides where the analysis has it (the still
    // check always does). On a head turned far to one side the nose hides part of the far
    // eye, so its lids say nothing of the eye: the pose fails that photo.
    let facing = p.yaw.abs() <= FAR_EYE_HIDDEN_YAW_DEG;
    match &s.refined {
        Some(refined) => {
            let (measure, limit) = (SecondMeasure::RefinedIrisShown, lim.min_refined_iris_shown);
            apply_second(r, measure, refined.iris_shown(), limit, facing, "closed");
        }
        None => {
            let shown = s.eyes.right_iris_shown.min(s.eyes.left_iris_shown);
            let (measure, limit) = (SecondMeasure::IrisShown, lim.min_iris_shown);
            apply_second(r, measure, shown, limit, facing, "closed");
        }
    }
    let cx = mouth_closed::MouthContext {
        skin: &skin,
        parts,
        limits: lim,
        facing,
        washed_out,
    };
    mouth_closed::push(b, img, s, &cx);

    let glasses_forbidden = profile.forbids_glasses(spec);
    let g = measures::glasses_lines(img, mesh);
    let parsed_glasses = parts.map(|p| p.eyeglasses);
    let lines_limit = measures::glasses_lines_limit(parsed_glasses, s.geometry.face_width, lim);
    let r = b.push(
        CheckId::Glasses,
        measures::glasses_evidence(&g),
        glasses_forbidden.then(|| Limit::at_most(lines_limit)),
        |_| "worn",
    );
    r.detail.insert("bridge".into(), round(g.bridge).into());
    r.detail
        .insert("thin_bridge".into(), round(g.thin_bridge).into());
    r.detail.insert("rims".into(), round(g.rims).into());
    r.detail.insert("temples".into(), round(g.temples).into());
    // thin and rimless frames leave faint lines; the parsing knows frames by their shape
    if let Some(parts) = parts {
        let (v, limit) = (parts.eyeglasses, lim.max_parsed_eyeglasses);
        apply_parsed(r, v, limit, glasses_forbidden, "worn");
    }

    let r = b.push(
        CheckId::Glare,
        measures::glare(img, mesh, &skin),
        (!washed_out).then(|| Limit::at_most(lim.max_glare)),
        |_| "glare",
    );
    if washed_out {
        not_applied_on_washed_out_face(r);
    }
    let cx = hair_and_headwear::CoverContext {
        skin: &skin,
        parts,
        limits: lim,
        washed_out,
    };
    hair_and_headwear::push(b, img, s, &cx);
    let comparable = measures::light_sides_comparable(p.yaw, lim.max_yaw_deg);
    // on the skin the parsing found where there is a parsing: hair over a cheek is not shadow
    let whole_boxes = measures::light_uniformity(&skin);
    let on_skin = s
        .parsing
        .as_ref()
        .and_then(|parsing| measures::parsed_light_sides(img, mesh, parsing));
    let (right, left) = on_skin.unwrap_or_else(|| skin.side_medians());
    let r = b.push(
        CheckId::LightUniformity,
        measures::side_ratio(right, left),
        comparable.then(|| Limit::at_least(lim.min_light_uniformity)),
        |_| "uneven",
    );
    r.detail.insert("right".into(), round(right).into());
    r.detail.insert("left".into(), round(left).into());
    r.detail
        .insert("by_parsing".into(), on_skin.is_some().into());
    r.detail
        .insert("whole_boxes".into(), round(whole_boxes).into());
    if !comparable {
        r.detail
            .insert(NOT_APPLIED.into(), "head turned: see head_pose".into());
    }

    let fault = light.fault(lim);
    let r = b.push(
        CheckId::Exposure,
        light.mean,
        Some(Limit::between(lim.exposure[0], lim.exposure[1])),
        |v| if v < 128.0 { "dark" } else { "bright" },
    );
    r.detail.insert(
        "clipped_share".into(),
        round(light.clipped_black + light.clipped_white).into(),
    );
    r.detail.insert(
        "channel_clipped".into(),
        round(light.channel_clipped).into(),
    );
    r.detail
        .insert("highlights".into(), round(light.highlights).into());
    r.detail.insert(
        "frame_highlight".into(),
        round(light.frame_highlight).into(),
    );
    r.detail
        .insert("lit_side".into(), round(light.lit_side).into());
    if let (true, Some(f)) = (r.ok, fault) {
        r.ok = false;
        r.reason = Some(reasons::reason(CheckId::Exposure, f.direction()));
    }

    let sharp = measures::sharpness(img, mesh);
    let r = b.push(
        CheckId::Sharpness,
        sharp.weakest(),
        Some(Limit::at_least(lim.min_sharpness)),
        |_| "blur",
    );
    r.detail.insert("across".into(), round(sharp.across).into());
    r.detail.insert("down".into(), round(sharp.down).into());
    r.detail.insert(
        "diagonal".into(),
        round(sharp.diagonal[0].min(sharp.diagonal[1])).into(),
    );
    r.detail.insert("noise".into(), round(sharp.noise).into());

    // the background only matters where the kiosk keeps the real one
    let bg_region = f.source_region();
    match measures::background_lab(img, &bg_region, &s.mask) {
        Some((mean, spread)) => {
            let targets =
                std::iter::once(spec.background).chain(spec.backgrounds_allowed.iter().copied());
            let colour_off = targets
                .map(|c| measures::delta_e(mean, lab_of(c)))
                .fold(f32::MAX, f32::min);
            let value = colour_off.max(spread * 1.5);
            let limit =
                (!profile.replace_background).then(|| Limit::at_most(lim.max_background_delta_e));
            let r = b.push(CheckId::Background, value, limit, move |_| {
                if spread * 1.5 > colour_off {
                    "busy"
                } else {
                    "colour"
                }
            });
            r.detail
                .insert("colour_delta_e".into(), round(colour_off).into());
            r.detail.insert("spread".into(), round(spread).into());
        }
        None => {
            // the person fills the frame: nothing to judge, nothing wrong
            b.push(CheckId::Background, 0.0, None, |_| "colour");
        }
    }

    let bg = spec.background;
    match measures::clothing_lab(img, mesh, &s.mask) {
        Some(cloth) => {
            let d = measures::colour_distance(cloth, lab_of(bg));
            b.push(
                CheckId::ClothingContrast,
                d,
                Some(Limit::at_least(lim.min_clothing_delta_e)),
                |_| "close",
            );
        }
        None => {
            b.push(CheckId::ClothingContrast, 0.0, None, |_| "close");
        }
    }
}
