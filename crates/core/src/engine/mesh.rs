//! The 468-point face mesh: eyes, brows, lips, contour and head pose, mapped back to image
//! pixels. Indices are MediaPipe's canonical face mesh.

use super::models::{self, FaceModels, ModelError, MESH_SIDE};
use crate::geometry::{BoundingBox, Point};
use crate::imaging::square_crop_unit;
use image::RgbImage;
use serde::Serialize;

pub const MESH_POINTS: usize = 468;

/// Named landmarks of the canonical mesh ("right"/"left" are the subject's).
pub mod idx {
    pub const FOREHEAD_TOP: usize = 10;
    pub const FOREHEAD_MID: usize = 151;
    pub const CHIN: usize = 152;
    pub const NOSE_TIP: usize = 1;
    pub const NOSE_BRIDGE: usize = 6;
    pub const BETWEEN_BROWS: usize = 9;
    pub const FACE_EDGE_RIGHT: usize = 234;
    pub const FACE_EDGE_LEFT: usize = 454;
    pub const RIGHT_EYE_OUTER: usize = 33;
    pub const RIGHT_EYE_INNER: usize = 133;
    pub const LEFT_EYE_INNER: usize = 362;
    pub const LEFT_EYE_OUTER: usize = 263;
    pub const RIGHT_EYE_UPPER: [usize; 3] = [160, 159, 158];
    pub const RIGHT_EYE_LOWER: [usize; 3] = [144, 145, 153];
    pub const LEFT_EYE_UPPER: [usize; 3] = [385, 386, 387];
    pub const LEFT_EYE_LOWER: [usize; 3] = [380, 374, 373];
    pub const RIGHT_BROW: [usize; 10] = [70, 63, 105, 66, 107, 46, 53, 52, 65, 55];
    pub const LEFT_BROW: [usize; 10] = [300, 293, 334, 296, 336, 276, 283, 282, 295, 285];
    pub const MOUTH_RIGHT: usize = 61;
    pub const MOUTH_LEFT: usize = 291;
    pub const LIP_INNER_UPPER: usize = 13;
    pub const LIP_INNER_LOWER: usize = 14;
    pub const LIP_OUTER_UPPER: usize = 0;
    pub const LIP_OUTER_LOWER: usize = 17;
    /// The mouth's opening across its middle: pairs of points on the inner upper and inner
    /// lower lip above one another, from the subject's right to left (corners left out).
    pub const LIPS_OPENING: [(usize, usize); 7] = [
        (80, 88),
        (81, 178),
        (82, 87),
        (13, 14),
        (312, 317),
        (311, 402),
        (310, 318),
    ];
    /// Pairs across each lip's thickness (outer contour, inner contour): upper lip at three
    /// places, then the lower lip.
    pub const LIP_THICKNESS: [(usize, usize); 6] = [
        (37, 82),
        (0, 13),
        (267, 312),
        (84, 87),
        (17, 14),
        (314, 317),
    ];
    /// The face's outline, from the forehead's top clockwise in the image.
    pub const FACE_OVAL: [usize; 36] = [
        10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
        152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
    ];
    pub const CHEEK_RIGHT: usize = 50;
    pub const CHEEK_LEFT: usize = 280;
}

/// The mesh of one face in image pixels; `z` is depth in the same pixel scale (smaller is
/// nearer the camera).
#[derive(Clone, Debug)]
pub struct FaceMesh {
    pub points: Vec<[f32; 3]>,
    /// Probability that the crop held a face at all.
    pub presence: f32,
}

/// Yaw, pitch and roll in degrees; all three 0 when the face plane is square to the camera.
/// Pitch is positive with the head bowed (chin down).
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct HeadPose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

impl FaceMesh {
    pub fn point(&self, i: usize) -> Point {
        let p = self.points[i];
        Point::new(p[0], p[1])
    }
    pub fn mean(&self, ids: &[usize]) -> Point {
        let n = ids.len().max(1) as f32;
        let (sx, sy) = ids.iter().fold((0.0, 0.0), |(x, y), &i| {
            (x + self.points[i][0], y + self.points[i][1])
        });
        Point::new(sx / n, sy / n)
    }
    pub fn bbox(&self) -> BoundingBox {
        BoundingBox::around(self.points.iter().map(|p| Point::new(p[0], p[1]))).unwrap_or_default()
    }
    /// Centre of the subject's right eye (image left).
    pub fn right_eye(&self) -> Point {
        self.point(idx::RIGHT_EYE_OUTER)
            .midpoint(self.point(idx::RIGHT_EYE_INNER))
    }
    pub fn left_eye(&self) -> Point {
        self.point(idx::LEFT_EYE_OUTER)
            .midpoint(self.point(idx::LEFT_EYE_INNER))
    }
    /// Face width: contour to contour at the temples.
    pub fn face_width(&self) -> f32 {
        self.point(idx::FACE_EDGE_RIGHT)
            .distance(self.point(idx::FACE_EDGE_LEFT))
    }
    /// The eye line's tilt in radians.
    pub fn eye_angle(&self) -> f32 {
        let (a, b) = (self.right_eye(), self.left_eye());
        (b.y - a.y).atan2(b.x - a.x)
    }

    /// Head pose from the mesh's 3D shape: the face plane's normal (temple to temple across,
    /// forehead to chin down) for yaw and pitch, the eye line for roll. Pitch is positive with
    /// the head bowed (chin down); on level heads it reads a few degrees bowed (the limits'
    /// `pitch_level_deg` says how many). Neither angle has a ground truth here.
    pub fn pose(&self) -> HeadPose {
        let v = |a: usize, b: usize| {
            let (p, q) = (self.points[a], self.points[b]);
            [q[0] - p[0], q[1] - p[1], q[2] - p[2]]
        };
        let across = v(idx::FACE_EDGE_RIGHT, idx::FACE_EDGE_LEFT);
        let down = v(idx::FOREHEAD_TOP, idx::CHIN);
        let n = [
            across[1] * down[2] - across[2] * down[1],
            across[2] * down[0] - across[0] * down[2],
            across[0] * down[1] - across[1] * down[0],
        ];
        let yaw = n[0].atan2(n[2]).to_degrees();
        let pitch = (-n[1]).atan2(n[2]).to_degrees();
        let roll = self.eye_angle().to_degrees();
        HeadPose { yaw, pitch, roll }
    }
}

/// Runs the mesh on a square crop of side `side` centred on `centre`, rotated by `angle`.
pub fn run_mesh(
    models: &FaceModels,
    img: &RgbImage,
    centre: Point,
    side: f32,
    angle: f32,
    scratch: &mut Vec<f32>,
) -> Result<FaceMesh, ModelError> {
    let n = MESH_SIDE;
    let to_crop = square_crop_unit(img, centre, side, angle, n, scratch);
    let out = models::run(&models.mesh, "face mesh", &[1, n, n, 3], scratch)?;
    let raw = models::output(&out, 0, "face mesh")?;
    let logit = models::output(&out, 1, "face mesh")?
        .first()
        .copied()
        .unwrap_or(-10.0);
    if raw.len() < MESH_POINTS * 3 {
        return Err(ModelError::Run {
            model: "face mesh",
            reason: format!("{} values", raw.len()),
        });
    }
    let back = to_crop.inverse();
    let zscale = back.scale();
    let points = (0..MESH_POINTS)
        .map(|i| {
            let p = back.apply(Point::new(raw[3 * i], raw[3 * i + 1]));
            [p.x, p.y, raw[3 * i + 2] * zscale]
        })
        .collect();
    Ok(FaceMesh {
        points,
        presence: 1.0 / (1.0 + (-logit).exp()),
    })
}

/// The crop the tracker takes around a mesh for the next pass (and the attention mesh reads):
/// centre, side and turn.
pub fn tracking_crop(mesh: &FaceMesh) -> (Point, f32, f32) {
    let (centre, side) = roi_for_box(&mesh.bbox());
    (centre, side, mesh.eye_angle())
}

/// The crop MediaPipe's tracker uses around a face: 1.5× the larger side of the box, centred.
pub fn roi_for_box(bbox: &BoundingBox) -> (Point, f32) {
    (bbox.centre(), bbox.width().max(bbox.height()) * 1.5)
}
