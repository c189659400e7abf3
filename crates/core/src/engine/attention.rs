//! The attention face mesh's refined eyes and lips (MediaPipe's "refine landmarks" model). Its
//! eye and lip sub-networks look again at each eye and at the mouth on the mesh's own crop,
//! and draw a laughing squint or a gaze cast down far closer to shut than the iris model does,
//! and the inner lips of a smile parted over the teeth further apart than the plain mesh does
//! (`kiosk eval`, see the limits). Its inner lips lie on a closed mouth's seam, where the plain
//! mesh's may lie on the lips' edges: the teeth are looked for between them, and lips it draws
//! together overrule the plain mesh's gap. The still analysis runs it beside the iris model, and the
//! live guide beside its face parsing, one frame in 30; the guide's frames keep the plain mesh.
//! It reads the crop the tracker takes around the plain mesh (`mesh::tracking_crop`).

use super::iris::share_of_iris_shown;
use super::mesh::{tracking_crop, FaceMesh};
use super::models::{self, FaceModels, ModelError, MESH_SIDE};
use crate::geometry::{Point, Similarity};
use crate::imaging::square_crop_unit;
use image::RgbImage;

const MODEL: &str = "attention mesh";

/// Values per output: an eye's 71 points, an iris's 5, the lips' 80, each (x, y) in crop
/// pixels.
const EYE_VALUES: usize = 71 * 2;
const IRIS_VALUES: usize = 5 * 2;
const LIPS_VALUES: usize = 80 * 2;

/// An eye's contour, as in the iris model: lower lid 0–8 from one corner to the other, upper
/// lid 9–15; 4 and 12 are the middles of the lower and upper lid, 0–15 the contour.
const EYE_CONTOUR: usize = 16;
const EYE_MIDDLES: (usize, usize) = (4, 12);

/// The lips, in MediaPipe's refinement order: outer contour 0–19 (0 and 10 the mouth's
/// corners), inner lower lip 20–30 from corner to corner, inner upper lip 31–39 between the
/// corners (35 above 25, the middles).
const MOUTH_CORNERS: (usize, usize) = (0, 10);
const INNER_MIDDLES: (usize, usize) = (35, 25);
/// The inner lips' opening across the mouth's middle, upper over lower, as the plain mesh's
/// `LIPS_OPENING`: the middle column and three either side.
const INNER_OPENING: [(usize, usize); OPENING_COLUMNS] = [
    (32, 22),
    (33, 23),
    (34, 24),
    (35, 25),
    (36, 26),
    (37, 27),
    (38, 28),
];
pub const OPENING_COLUMNS: usize = 7;

/// What the attention mesh reads of the eyes and the mouth: ratios, the same in the crop as
/// in the image, and the inner lips' opening in image pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RefinedFeatures {
    /// Lid-to-lid gap over the iris's width, per eye (the subject's right and left).
    pub right_iris_shown: f32,
    pub left_iris_shown: f32,
    /// Inner lip to inner lip at the middle, over the mouth's width from corner to corner.
    pub mouth_gap: f32,
    /// The inner lips' opening, upper and lower point per column, in image pixels.
    pub lips_opening: [(Point, Point); OPENING_COLUMNS],
}

impl RefinedFeatures {
    /// The less open eye's share of the iris shown: one shut eye is a shut eye.
    pub fn iris_shown(&self) -> f32 {
        self.right_iris_shown.min(self.left_iris_shown)
    }
}

/// Runs the attention mesh on the crop the tracker would take around `mesh`.
pub fn refine(
    models: &FaceModels,
    img: &RgbImage,
    mesh: &FaceMesh,
    scratch: &mut Vec<f32>,
) -> Result<RefinedFeatures, ModelError> {
    let n = MESH_SIDE;
    let (centre, side, angle) = tracking_crop(mesh);
    let to_crop = square_crop_unit(img, centre, side, angle, n, scratch);
    let out = models::run(&models.attention, MODEL, &[1, n, n, 3], scratch)?;
    let outputs = (0..out.len())
        .map(|i| models::output(&out, i, MODEL))
        .collect::<Result<Vec<_>, _>>()?;
    features(&outputs, &to_crop.inverse())
}

/// The features from the model's outputs, told apart by their sizes: the eyes and irises by
/// where they lie (the crop is upright, so the subject's right eye is the one on the crop's
/// left, and each iris belongs to the eye whose contour it lies nearest), since the outputs'
/// order is the converter's, not a contract.
fn features(outputs: &[&[f32]], to_image: &Similarity) -> Result<RefinedFeatures, ModelError> {
    let mut eyes: Vec<&[f32]> = Vec::with_capacity(2);
    let mut irises: Vec<&[f32]> = Vec::with_capacity(2);
    let mut lips: Option<&[f32]> = None;
    for &values in outputs {
        match values.len() {
            EYE_VALUES => eyes.push(values),
            IRIS_VALUES => irises.push(values),
            LIPS_VALUES => lips = Some(values),
            _ => {}
        }
    }
    let (Some(lips), [first, second], [_, _]) = (lips, eyes.as_slice(), irises.as_slice()) else {
        return Err(short_output());
    };
    let (right, left) = if centre_x(first, EYE_CONTOUR) <= centre_x(second, EYE_CONTOUR) {
        (*first, *second)
    } else {
        (*second, *first)
    };
    Ok(RefinedFeatures {
        right_iris_shown: iris_shown(right, nearest_iris(&irises, right)),
        left_iris_shown: iris_shown(left, nearest_iris(&irises, left)),
        mouth_gap: distance(lips, INNER_MIDDLES.0, INNER_MIDDLES.1)
            / distance(lips, MOUTH_CORNERS.0, MOUTH_CORNERS.1).max(1e-3),
        lips_opening: INNER_OPENING.map(|(upper, lower)| {
            let at = |i: usize| to_image.apply(Point::new(lips[2 * i], lips[2 * i + 1]));
            (at(upper), at(lower))
        }),
    })
}

fn short_output() -> ModelError {
    ModelError::Run {
        model: MODEL,
        reason: "the eyes, irises or lips are missing from its output".into(),
    }
}

fn distance(pts: &[f32], i: usize, j: usize) -> f32 {
    (pts[2 * j] - pts[2 * i]).hypot(pts[2 * j + 1] - pts[2 * i + 1])
}

/// The mean x of the first `count` points.
fn centre_x(pts: &[f32], count: usize) -> f32 {
    let count = count.min(pts.len() / 2).max(1);
    (0..count).map(|i| pts[2 * i]).sum::<f32>() / count as f32
}

/// The iris (centre first) nearest the eye's contour.
fn nearest_iris<'a>(irises: &[&'a [f32]], eye: &[f32]) -> &'a [f32] {
    let x = centre_x(eye, EYE_CONTOUR);
    irises
        .iter()
        .copied()
        .min_by(|a, b| (a[0] - x).abs().total_cmp(&(b[0] - x).abs()))
        .unwrap_or(&[0.0; IRIS_VALUES])
}

/// Lid-to-lid gap at the middle over the iris's width (points 1 and 3 across it, 2 and 4 up
/// and down), as for the iris model.
fn iris_shown(eye: &[f32], iris: &[f32]) -> f32 {
    share_of_iris_shown(
        distance(eye, EYE_MIDDLES.0, EYE_MIDDLES.1),
        distance(iris, 1, 3),
        distance(iris, 2, 4),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An eye's 71 points, all at `x` but for the lids' middles, `gap` apart.
    fn eye(x: f32, gap: f32) -> Vec<f32> {
        let mut pts = vec![0.0; EYE_VALUES];
        for i in 0..71 {
            pts[2 * i] = x;
            pts[2 * i + 1] = 50.0;
        }
        pts[2 * EYE_MIDDLES.0 + 1] = 50.0 + gap / 2.0;
        pts[2 * EYE_MIDDLES.1 + 1] = 50.0 - gap / 2.0;
        pts
    }

    /// An iris of width `width` centred at `x`.
    fn iris(x: f32, width: f32) -> Vec<f32> {
        let r = width / 2.0;
        vec![x, 50.0, x + r, 50.0, x, 50.0 - r, x - r, 50.0, x, 50.0 + r]
    }

    fn lips(gap: f32) -> Vec<f32> {
        let mut pts = vec![0.0; LIPS_VALUES];
        pts[2 * MOUTH_CORNERS.1] = 40.0;
        pts[2 * INNER_MIDDLES.0 + 1] = 100.0;
        pts[2 * INNER_MIDDLES.1 + 1] = 100.0 + gap;
        pts
    }

    #[test]
    fn eyes_and_irises_are_told_apart_by_where_they_lie_whatever_the_outputs_order() {
        // the subject's right eye (crop left) half shut behind a 10 px iris, the left open
        let (right, left) = (eye(60.0, 5.0), eye(130.0, 9.0));
        let (right_iris, left_iris) = (iris(61.0, 10.0), iris(129.0, 10.0));
        let mouth = lips(8.0);
        let flag = [0.9f32];
        let orders: [Vec<&[f32]>; 2] = [
            vec![&flag, &mouth, &left_iris, &right, &right_iris, &left],
            vec![&left, &right_iris, &right, &left_iris, &mouth, &flag],
        ];
        for outputs in &orders {
            let f = features(outputs, &Similarity::identity()).unwrap();
            assert!((f.right_iris_shown - 0.5).abs() < 1e-4, "{f:?}");
            assert!((f.left_iris_shown - 0.9).abs() < 1e-4, "{f:?}");
            assert!((f.iris_shown() - 0.5).abs() < 1e-4);
            assert!((f.mouth_gap - 0.2).abs() < 1e-4, "{f:?}");
        }
    }

    #[test]
    fn the_lips_opening_comes_back_to_the_image_column_by_column() {
        // a 384 px crop centred on (10, 20), at 192: a crop point (x, y) is the image's
        // ((x - 91) * 2, (y - 86) * 2)
        let to_image = Similarity::crop(Point::new(10.0, 20.0), 384.0, 0.0, 192.0).inverse();
        let mut mouth = lips(8.0);
        // the first column: upper lip point 32 over lower 22
        mouth[2 * 32..2 * 32 + 2].copy_from_slice(&[50.0, 90.0]);
        mouth[2 * 22..2 * 22 + 2].copy_from_slice(&[50.0, 110.0]);
        let (right, left) = (eye(60.0, 5.0), eye(130.0, 9.0));
        let (right_iris, left_iris) = (iris(61.0, 10.0), iris(129.0, 10.0));
        let outputs: Vec<&[f32]> = vec![&mouth, &right, &left, &right_iris, &left_iris];
        let f = features(&outputs, &to_image).unwrap();
        let near = |p: Point, x: f32, y: f32| (p.x - x).abs() < 1e-3 && (p.y - y).abs() < 1e-3;
        let (upper, lower) = f.lips_opening[0];
        assert!(
            near(upper, -82.0, 8.0) && near(lower, -82.0, 48.0),
            "{upper:?} {lower:?}"
        );
        // the middle column: the inner middles, 8 apart in the crop
        let (upper, lower) = f.lips_opening[OPENING_COLUMNS / 2];
        assert!(
            near(upper, -182.0, 28.0) && near(lower, -182.0, 44.0),
            "{upper:?} {lower:?}"
        );
    }

    #[test]
    fn an_output_missing_is_an_error_not_a_reading() {
        let (right, left, i) = (eye(60.0, 5.0), eye(130.0, 9.0), iris(61.0, 10.0));
        let outputs: Vec<&[f32]> = vec![&right, &left, &i, &i];
        assert!(matches!(
            features(&outputs, &Similarity::identity()),
            Err(ModelError::Run { .. })
        ));
    }
}
