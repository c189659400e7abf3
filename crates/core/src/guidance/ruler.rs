//! The rulers a face gives for its distance from the camera: the camera's focal length, the
//! eye spacing and the iris, and how the two are combined.

/// The camera's geometry, from its profile.
#[derive(Clone, Copy, Debug)]
pub struct CameraModel {
    /// Focal length in pixels at `width`.
    pub focal_px: f32,
    /// The frame width the focal length is for (0: whatever width frames come at).
    pub width: u32,
}

impl CameraModel {
    /// A typical webcam: 60° horizontal field of view.
    pub fn typical(frame_width: u32) -> Self {
        Self {
            focal_px: frame_width as f32 / 2.0 / (30f32).to_radians().tan(),
            width: frame_width,
        }
    }

    /// The same camera seen through frames `width` pixels wide (a frame decoded at half
    /// size has half the focal length in pixels).
    pub fn at_width(&self, width: u32) -> CameraModel {
        if self.width == 0 || width == self.width {
            return *self;
        }
        CameraModel {
            focal_px: self.focal_px * width as f32 / self.width as f32,
            width,
        }
    }
}

/// Mean adult interpupillary distance in cm; the ruler for distance estimates when the irises
/// cannot be measured (it varies 5.4–7.4 cm between adults).
pub const MEAN_EYE_DISTANCE_CM: f32 = 6.3;

/// The visible iris's diameter in cm: 11.7 ± 0.5 mm almost regardless of age or build, which
/// is why MediaPipe's iris depth holds to about 10 % at arm's length.
pub const IRIS_DIAMETER_CM: f32 = 1.17;

/// Distance of a face from the camera, from the eye distance in pixels.
pub fn distance_cm(camera: &CameraModel, eye_distance_px: f32) -> f32 {
    camera.focal_px * MEAN_EYE_DISTANCE_CM / eye_distance_px.max(1.0)
}

/// The eye spacing in iris widths that adult faces span: 54–74 mm between the eyes' centres
/// over an iris of 11.2–12.2 mm. An iris reading outside it is held to its edge.
pub const EYE_SPAN_IN_IRISES: std::ops::RangeInclusive<f32> = 4.4..=6.6;

/// The eye spacing in iris widths of a reading the live guide learns from: wider than
/// `EYE_SPAN_IN_IRISES`, as the dev set's faces read up to 7.6, but not a wild reading, which
/// would otherwise stand for 16 frames and fade slowly.
pub(super) const IRIS_READING_BELIEVED: std::ops::RangeInclusive<f32> = 3.8..=7.8;

/// The iris's width as a share of the eye spacing, held to what adult faces span
/// (`EYE_SPAN_IN_IRISES`); `None` for a reading that is no number or not above 0.
pub(super) fn iris_share_held(iris_px: f32, eye_distance_px: f32) -> Option<f32> {
    let (wide, narrow) = (*EYE_SPAN_IN_IRISES.end(), *EYE_SPAN_IN_IRISES.start());
    (iris_px.is_finite() && iris_px > 0.0)
        .then(|| (iris_px / eye_distance_px.max(0.5)).clamp(1.0 / wide, 1.0 / narrow))
}

/// What a face offers to measure its distance by: the iris diameter and the eye spacing
/// together when the iris was measured, else the eye spacing alone.
///
/// Together means the geometric mean of the distance each gives, with the iris held so the
/// eyes sit 4.4–6.6 iris widths apart (`EYE_SPAN_IN_IRISES`). Two reasons. A person's iris
/// (±4 %) and eye spacing (±6 %) are independent rulers, so their mean errs less than either.
/// And the estimate has no edge to jump at: choosing one ruler or the other by whether the
/// iris looked plausible made the same face read up to 25 % apart at neighbouring distances
/// (faces whose eyes read 6.2–7.6 iris widths apart flipped from one ruler to the other), so
/// a camera calibrated on one photo misread the next. Held to the edge, a wild iris reading
/// (glare, a lid over it) moves the estimate at most 11 % from the eyes' own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceRuler {
    /// The length in pixels and what it is in cm.
    pub px: f32,
    pub cm: f32,
    /// Whether the iris is part of the ruler.
    pub from_iris: bool,
}

impl FaceRuler {
    pub fn new(eye_distance_px: f32, iris_diameter_px: Option<f32>) -> Self {
        let eyes = eye_distance_px.max(0.5);
        match iris_diameter_px.and_then(|iris| iris_share_held(iris, eyes)) {
            // √(iris × eyes), with the iris as a share of the eyes
            Some(share) => FaceRuler {
                px: eyes * share.sqrt(),
                cm: (IRIS_DIAMETER_CM * MEAN_EYE_DISTANCE_CM).sqrt(),
                from_iris: true,
            },
            None => FaceRuler {
                px: eyes,
                cm: MEAN_EYE_DISTANCE_CM,
                from_iris: false,
            },
        }
    }

    /// The distance from the camera (pinhole model).
    pub fn distance_cm(&self, camera: &CameraModel) -> f32 {
        camera.focal_px * self.cm / self.px.max(0.5)
    }

    /// The focal length in pixels that puts this face at `distance_cm` (calibration).
    pub fn focal_px_at(&self, distance_cm: f32) -> f32 {
        distance_cm * self.px / self.cm
    }
}
