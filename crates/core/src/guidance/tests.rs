//! The live guide's prompts on made-up frames.

use super::*;

#[test]
fn the_iris_is_the_ruler_when_it_fits_the_eyes() {
    let cam = CameraModel::typical(640);
    // eyes 40 px apart, irises 7.4 px: 5.4 iris widths apart, a plausible face
    let r = FaceRuler::new(40.0, Some(7.4));
    assert!(r.from_iris);
    let d = r.distance_cm(&cam);
    assert!((d - 554.3 * 1.17 / 7.4).abs() < 0.5, "{d}");
    assert!((r.focal_px_at(d) - cam.focal_px).abs() < 0.1);
    // an iris reading that cannot be (glare, a lid over it) falls back to the eyes
    assert!(!FaceRuler::new(40.0, Some(20.0)).from_iris);
    assert!(!FaceRuler::new(40.0, None).from_iris);
    assert_eq!(
        FaceRuler::new(40.0, None).distance_cm(&cam),
        distance_cm(&cam, 40.0)
    );
}

#[test]
fn distance_halves_when_the_eyes_look_twice_as_far_apart() {
    let cam = CameraModel::typical(640);
    let far = distance_cm(&cam, 40.0);
    let near = distance_cm(&cam, 80.0);
    assert!((far / near - 2.0).abs() < 1e-4);
    // 640 px at 60°: f ≈ 554 px; 40 px eyes ≈ 87 cm
    assert!((far - 87.3).abs() < 1.0, "{far}");
}
