//! Eyelids from the MediaPipe iris model: a 64×64 crop per eye gives a 16-point lid contour far
//! more faithful to a blink than the face mesh, which tends to draw eyes open.

use super::mesh::{idx, FaceMesh};
use super::models::{self, FaceModels, ModelError, IRIS_SIDE};
use crate::imaging::square_crop_unit;
use image::RgbImage;

/// Contour indices in the model's output: lower lid 0–8 from the outer to the inner corner,
/// upper lid 9–15; 4 and 12 are the middles of the lower and upper lid.
const OUTER_CORNER: usize = 0;
const INNER_CORNER: usize = 8;
const LOWER_MIDDLE: usize = 4;
const UPPER_MIDDLE: usize = 12;

/// What the iris model reads of both eyes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EyeReading {
    /// Lid opening (lid-to-lid over corner-to-corner) of the subject's right and left eye.
    pub right_open: f32,
    pub left_open: f32,
    /// Lid-to-lid gap over the iris's width, per eye: how much of the iris the lids leave
    /// showing, whatever the eye's shape.
    pub right_iris_shown: f32,
    pub left_iris_shown: f32,
    /// The iris's diameter in image pixels, the mean of both eyes: the human iris is
    /// 11.7 ± 0.5 mm across whatever a person's age or build, a steadier ruler for distance
    /// than the eyes' spacing (54–74 mm between adults).
    pub iris_diameter_px: f32,
}

impl EyeReading {
    /// The less open eye's opening: one shut eye is a shut eye.
    pub fn openness(&self) -> f32 {
        self.right_open.min(self.left_open)
    }
}

/// The subject's right or left eye.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EyeSide {
    Right,
    Left,
}

/// What the iris model reads of one eye.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OneEye {
    /// Lid-to-lid over corner-to-corner.
    pub opening: f32,
    /// The iris's width in image pixels.
    pub iris_px: f32,
    /// Lid-to-lid over the iris's width.
    pub iris_shown: f32,
}

/// Lid opening and iris diameter (in image pixels) of one eye. The model sees a left eye, so
/// the subject's right eye is mirrored into it.
pub fn read_eye(
    models: &FaceModels,
    img: &RgbImage,
    mesh: &FaceMesh,
    side: EyeSide,
    scratch: &mut Vec<f32>,
) -> Result<OneEye, ModelError> {
    let (outer, inner, mirror) = match side {
        EyeSide::Right => (idx::RIGHT_EYE_OUTER, idx::RIGHT_EYE_INNER, true),
        EyeSide::Left => (idx::LEFT_EYE_OUTER, idx::LEFT_EYE_INNER, false),
    };
    let (a, b) = (mesh.point(outer), mesh.point(inner));
    let centre = a.midpoint(b);
    let side = a.distance(b) * 2.3;
    let n = IRIS_SIDE;
    square_crop_unit(img, centre, side, mesh.eye_angle(), n, scratch);
    if mirror {
        for row in scratch.chunks_exact_mut(n * 3) {
            for x in 0..n / 2 {
                for c in 0..3 {
                    row.swap(x * 3 + c, (n - 1 - x) * 3 + c);
                }
            }
        }
    }
    let out = models::run(&models.iris, "iris", &[1, n, n, 3], scratch)?;
    let contour = models::output(&out, 0, "iris")?;
    let iris = models::output(&out, 1, "iris")?;
    if contour.len() < 16 * 3 || iris.len() < 5 * 3 {
        return Err(ModelError::Run {
            model: "iris",
            reason: "short output".into(),
        });
    }
    let dist = |pts: &[f32], i: usize, j: usize| {
        let (x0, y0, x1, y1) = (pts[3 * i], pts[3 * i + 1], pts[3 * j], pts[3 * j + 1]);
        ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt()
    };
    let gap = dist(contour, UPPER_MIDDLE, LOWER_MIDDLE);
    let opening = gap / dist(contour, OUTER_CORNER, INNER_CORNER).max(1e-3);
    // iris points: 0 the centre, 1–4 around it
    let (span_across, span_down) = (dist(iris, 1, 3), dist(iris, 2, 4));
    Ok(OneEye {
        opening,
        iris_px: iris_width(span_across, span_down) * side / n as f32,
        iris_shown: share_of_iris_shown(gap, span_across, span_down),
    })
}

/// The iris's width from its spans across and up and down: the horizontal span is the one a
/// lid never hides, so it counts twice as much as the vertical one.
fn iris_width(span_across: f32, span_down: f32) -> f32 {
    (2.0 * span_across + span_down) / 3.0
}

/// Lid-to-lid gap over the iris's width: how much of the iris the lids leave showing,
/// whatever the eye's shape.
pub(super) fn share_of_iris_shown(gap: f32, span_across: f32, span_down: f32) -> f32 {
    gap / iris_width(span_across, span_down).max(1e-3)
}

/// Both eyes' lid openings and the iris size.
pub fn read_eyes(
    models: &FaceModels,
    img: &RgbImage,
    mesh: &FaceMesh,
    scratch: &mut Vec<f32>,
) -> Result<EyeReading, ModelError> {
    let right = read_eye(models, img, mesh, EyeSide::Right, scratch)?;
    let left = read_eye(models, img, mesh, EyeSide::Left, scratch)?;
    Ok(EyeReading {
        right_open: right.opening,
        left_open: left.opening,
        right_iris_shown: right.iris_shown,
        left_iris_shown: left.iris_shown,
        iris_diameter_px: (right.iris_px + left.iris_px) / 2.0,
    })
}
