//! The live guide's prompts on made-up frames.

use super::*;

#[test]
fn the_irises_and_the_eyes_measure_together() {
    let cam = CameraModel::typical(640);
    // eyes 40 px apart, irises 6.5 px: 6.2 iris widths apart, a plausible face whose two
    // rulers disagree by 14 %; the distance is the geometric mean of what each says
    let r = FaceRuler::new(40.0, Some(6.5));
    assert!(r.from_iris);
    let (by_iris, by_eyes) = (554.3 * 1.17 / 6.5, distance_cm(&cam, 40.0));
    let d = r.distance_cm(&cam);
    assert!((d - (by_iris * by_eyes).sqrt()).abs() < 0.5, "{d}");
    assert!((r.focal_px_at(d) - cam.focal_px).abs() < 0.1);
    // without an iris reading, the eyes alone
    assert!(!FaceRuler::new(40.0, None).from_iris);
    assert!(!FaceRuler::new(40.0, Some(f32::NAN)).from_iris);
    assert_eq!(FaceRuler::new(40.0, None).distance_cm(&cam), by_eyes);
}

#[test]
fn an_iris_reading_near_the_edge_of_faces_does_not_make_the_distance_jump() {
    let cam = CameraModel::typical(1920);
    // eyes 6.7 and 6.9 iris widths apart: either side of the edge (6.8) where the old ruler
    // turned from the iris to the eyes, which put these 25 % apart; now both are held to 6.6
    let d = |iris: f32| FaceRuler::new(66.0, Some(iris)).distance_cm(&cam);
    let (inside, outside) = (d(66.0 / 6.7), d(66.0 / 6.9));
    assert!((outside / inside - 1.0).abs() < 0.01, "{inside} {outside}");
    // a wild reading (glare; a lid over the iris) is held to the edge of what faces span: it
    // moves the distance no more than 11 % from the eyes' own
    let eyes = FaceRuler::new(66.0, None).distance_cm(&cam);
    for wild in [1.0, 5.0, 30.0, 200.0] {
        let shift = d(wild) / eyes;
        assert!((0.89..=1.11).contains(&shift), "iris {wild} px: {shift}");
    }
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
