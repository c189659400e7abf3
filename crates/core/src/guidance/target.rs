//! Where the candidate's face belongs on the live screen: the eyes' window the guide holds a
//! face to, and the oval the screen draws there, as large as a face at the middle of the
//! profile's distance window shows on this camera. The oval and the prompt rest on the same
//! numbers, so a face that fills the oval is at a distance and a place the guide accepts (the
//! other way does not hold: the guide accepts faces across its whole distance window and eyes'
//! window, and the oval says nothing of pose, light or what the face wears). A fixed oval drawn
//! on the screen's own proportions asked a candidate at 90 cm, told "good", to come closer
//! until the guide told them to step back.

use super::{CameraModel, MEAN_EYE_DISTANCE_CM};

/// Where the eyes' midpoint may be, as fractions of the frame's width: the guide asks the
/// candidate to move sideways outside it.
pub const EYES_ACROSS: [f32; 2] = [0.4, 0.6];

/// Where the eyes' midpoint may be, as fractions of the frame's height from its top: the guide
/// asks the candidate to come down or up outside it.
pub const EYES_DOWN: [f32; 2] = [0.28, 0.5];

/// The face's outline from temple to temple (the mesh's face width) in eye spacings: 2.19 on
/// 295 faces of the development set within 8° of frontal (2.08–2.27 from the 10th to the 90th
/// percentile).
const FACE_WIDTH_PER_EYE_SPACING: f32 = 2.19;

/// The face from the forehead's top to the chin over its width: 1.19 on the same faces
/// (1.13–1.22).
const FACE_HEIGHT_PER_WIDTH: f32 = 1.19;

/// The eyes' line down that height from the forehead's top: 0.32 (0.31–0.34).
const EYES_DOWN_THE_FACE: f32 = 0.32;

/// The oval holds the head, not only the face: hair and ears beside it, the crown above the
/// forehead's top (a fifth of the face's height) and a little room under the chin.
const OVAL_WIDTH_PER_FACE: f32 = 1.2;
const OVAL_ABOVE_FOREHEAD: f32 = 0.2;
const OVAL_BELOW_CHIN: f32 = 0.04;

/// The oval for a face where the guide wants it, as fractions of the frame: its centre across
/// and down, its width over the frame's width and its height over the frame's height. The
/// preview mirrors the frame; the oval is centred across it, so the mirror does not move it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceTarget {
    pub centre_across: f32,
    pub centre_down: f32,
    pub width: f32,
    pub height: f32,
}

/// The oval on a `frame_width` × `frame_height` frame from `camera`, for a face at the middle
/// of `distance_window` (cm) with its eyes in the middle of the window the guide holds them to.
/// None for a frame with no pixels, a camera whose focal length is not a positive number, or
/// a window that is not a distance.
pub fn face_target(
    camera: &CameraModel,
    distance_window: [f32; 2],
    frame_width: u32,
    frame_height: u32,
) -> Option<FaceTarget> {
    let (w, h) = (frame_width as f32, frame_height as f32);
    let distance = (distance_window[0] + distance_window[1]) / 2.0;
    let focal = camera.at_width(frame_width).focal_px;
    if !(w > 0.0 && h > 0.0 && distance > 0.0 && focal > 0.0 && focal.is_finite()) {
        return None;
    }
    let face_width = focal * MEAN_EYE_DISTANCE_CM * FACE_WIDTH_PER_EYE_SPACING / distance;
    let face_height = face_width * FACE_HEIGHT_PER_WIDTH;
    let eyes_down = (EYES_DOWN[0] + EYES_DOWN[1]) / 2.0 * h;
    let top = eyes_down - (EYES_DOWN_THE_FACE + OVAL_ABOVE_FOREHEAD) * face_height;
    let bottom = eyes_down + (1.0 - EYES_DOWN_THE_FACE + OVAL_BELOW_CHIN) * face_height;
    Some(FaceTarget {
        centre_across: (EYES_ACROSS[0] + EYES_ACROSS[1]) / 2.0,
        centre_down: (top + bottom) / 2.0 / h,
        width: face_width * OVAL_WIDTH_PER_FACE / w,
        height: (bottom - top) / h,
    })
}

/// The face the oval was drawn for, in pixels of a frame: for a test to place a face in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceInTarget {
    /// The face's width (the mesh's, temple to temple).
    pub width: f32,
    /// The eyes' midpoint.
    pub eyes_x: f32,
    pub eyes_y: f32,
    /// The forehead's top and the chin, down the frame.
    pub forehead_y: f32,
    pub chin_y: f32,
}

/// The face `target` was drawn for, on a `frame_width` × `frame_height` frame.
pub fn face_in_target(target: &FaceTarget, frame_width: u32, frame_height: u32) -> FaceInTarget {
    let (w, h) = (frame_width as f32, frame_height as f32);
    let face_height = target.height / (1.0 + OVAL_ABOVE_FOREHEAD + OVAL_BELOW_CHIN);
    let forehead = target.centre_down - target.height / 2.0 + OVAL_ABOVE_FOREHEAD * face_height;
    FaceInTarget {
        width: target.width * w / OVAL_WIDTH_PER_FACE,
        eyes_x: target.centre_across * w,
        eyes_y: (forehead + EYES_DOWN_THE_FACE * face_height) * h,
        forehead_y: forehead * h,
        chin_y: (forehead + face_height) * h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webcam() -> CameraModel {
        CameraModel::typical(640)
    }

    #[test]
    fn the_oval_is_as_wide_as_a_face_at_the_windows_middle_with_its_eyes_in_the_window() {
        let t = face_target(&webcam(), [80.0, 100.0], 640, 480).unwrap();
        let f = face_in_target(&t, 640, 480);
        let (face, x, y) = (f.width, f.eyes_x, f.eyes_y);
        // a 60° webcam at 640 px: f = 554 px; 6.3 cm × 2.19 at 90 cm is 85 px
        assert!((face - 85.0).abs() < 1.5, "{face}");
        assert!(
            (x - 320.0).abs() < 0.5 && (y - 0.39 * 480.0).abs() < 0.5,
            "{x} {y}"
        );
        // the whole oval is on the frame
        assert!(t.centre_down - t.height / 2.0 > 0.0 && t.centre_down + t.height / 2.0 < 1.0);
    }

    #[test]
    fn a_nearer_window_or_a_longer_lens_draws_a_larger_oval_and_the_frames_size_does_not() {
        let at_90 = face_target(&webcam(), [80.0, 100.0], 640, 480).unwrap();
        let at_45 = face_target(&webcam(), [40.0, 50.0], 640, 480).unwrap();
        assert!((at_45.width / at_90.width - 2.0).abs() < 1e-3);
        let narrow = CameraModel {
            focal_px: webcam().focal_px * 1.5,
            width: 640,
        };
        let zoomed = face_target(&narrow, [80.0, 100.0], 640, 480).unwrap();
        assert!((zoomed.width / at_90.width - 1.5).abs() < 1e-3);
        // the same camera decoded at twice the size: the same share of the frame
        let big = face_target(&webcam(), [80.0, 100.0], 1280, 960).unwrap();
        assert!((big.width - at_90.width).abs() < 1e-4);
        assert!((big.centre_down - at_90.centre_down).abs() < 1e-4);
    }

    #[test]
    fn no_oval_without_a_frame_or_a_distance() {
        assert_eq!(face_target(&webcam(), [80.0, 100.0], 0, 480), None);
        assert_eq!(face_target(&webcam(), [0.0, 0.0], 640, 480), None);
        let broken = CameraModel {
            focal_px: f32::NAN,
            width: 640,
        };
        assert_eq!(face_target(&broken, [80.0, 100.0], 640, 480), None);
    }
}
