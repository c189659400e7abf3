use super::*;

#[test]
fn lenses_as_light_as_the_skin_are_clear_and_dark_ones_are_not() {
    // a 2x2 map: two skin cells, two lens cells; the input normalised as the model's
    let n = 2;
    let labels = [
        FacePart::Skin as u8,
        FacePart::Skin as u8,
        FacePart::Eyeglasses as u8,
        FacePart::Eyeglasses as u8,
    ];
    let input = |skin: f32, lens: f32| -> Vec<f32> {
        (0..3)
            .flat_map(|c| [skin, skin, lens, lens].map(|v| (v - MEAN[c]) / STD[c]))
            .collect()
    };
    let clear = lens_light(&labels, &input(0.6, 0.54), n).unwrap_or_default();
    assert!((clear - 0.9).abs() < 1e-3, "{clear}");
    assert!(clear >= MIN_CLEAR_LENS_LIGHT);
    let dark = lens_light(&labels, &input(0.6, 0.15), n).unwrap_or_default();
    assert!(dark < MIN_CLEAR_LENS_LIGHT, "{dark}");
    // no lenses, or no skin to compare them with: no reading
    let bare = [FacePart::Skin as u8; 4];
    assert_eq!(lens_light(&bare, &input(0.6, 0.6), n), None);
}

#[test]
fn a_dim_crop_is_brightened_to_mid_grey_and_a_bright_one_left_alone() {
    let n = 8;
    let crop = |v: f32| vec![v; 3 * n * n];
    assert!((dim_face_gain(&crop(0.25), n) - 2.0).abs() < 1e-4);
    assert_eq!(dim_face_gain(&crop(0.1), n), PARSING_MAX_GAIN);
    assert_eq!(dim_face_gain(&crop(0.6), n), 1.0);
    assert_eq!(dim_face_gain(&crop(0.0), n), 1.0);
    assert_eq!(dim_face_gain(&[0.2; 5], n), 1.0);
}

#[test]
fn argmax_follows_the_interpolated_logits() {
    // two classes on a 2×2 grid: class 1 wins on the right column only
    let m = 2;
    let mut logits = vec![0.0f32; CLASSES * m * m];
    logits[m * m..2 * m * m].copy_from_slice(&[-1.0, 1.0, -1.0, 1.0]);
    let labels = upsampled_argmax(&logits, m, 4);
    assert_eq!(&labels[0..4], &[0, 0, 1, 1]);
    assert_eq!(FacePart::Hat as usize, CLASSES - 1);
    for (c, part) in FacePart::ALL.iter().enumerate() {
        assert_eq!(*part as usize, c);
    }
}

/// `upsampled_argmax` as it was before it was made separable (session 35), word for word
/// but for also returning each cell's winning logit.
fn argmax_cell_by_cell(logits: &[f32], m: usize, n: usize) -> (Vec<u8>, Vec<f32>) {
    let scale = if n > 1 {
        (m - 1) as f32 / (n - 1) as f32
    } else {
        0.0
    };
    let mut labels = vec![0u8; n * n];
    let mut best = vec![f32::NEG_INFINITY; n * n];
    for class in 0..CLASSES {
        let plane = &logits[class * m * m..(class + 1) * m * m];
        for y in 0..n {
            let sy = y as f32 * scale;
            let y0 = sy.floor() as usize;
            let y1 = (y0 + 1).min(m - 1);
            let fy = sy - y0 as f32;
            for x in 0..n {
                let sx = x as f32 * scale;
                let x0 = sx.floor() as usize;
                let x1 = (x0 + 1).min(m - 1);
                let fx = sx - x0 as f32;
                let top = plane[y0 * m + x0] * (1.0 - fx) + plane[y0 * m + x1] * fx;
                let bottom = plane[y1 * m + x0] * (1.0 - fx) + plane[y1 * m + x1] * fx;
                let v = top * (1.0 - fy) + bottom * fy;
                let i = y * n + x;
                if v > best[i] {
                    best[i] = v;
                    labels[i] = class as u8;
                }
            }
        }
    }
    (labels, best)
}

#[test]
fn the_separable_argmax_gives_the_cell_by_cell_blends_values_bit_for_bit() {
    // logits that change class often: a fixed pseudo-random field
    let mut state = 0x2545_f491_u32;
    let mut field = |len: usize| -> Vec<f32> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 1000) as f32 / 250.0 - 2.0
            })
            .collect()
    };
    // the kiosk's own size (40 → 320) and the edges: one source cell, one output cell, fewer
    // outputs than sources
    for (m, n) in [(40, 320), (5, 37), (5, 5), (8, 3), (1, 4), (5, 1)] {
        let logits = field(CLASSES * m * m);
        let (labels, best) = upsampled_argmax_with_best(&logits, m, n);
        let (old_labels, old_best) = argmax_cell_by_cell(&logits, m, n);
        assert_eq!(labels, old_labels, "{m}→{n}");
        // the same sums in the same order: equal to the last bit, not merely close
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&best), bits(&old_best), "{m}→{n}");
        // (one source cell is one class everywhere)
        if m > 1 && n > 1 {
            assert!(
                labels.iter().any(|&l| l != labels[0]),
                "one class everywhere tests nothing ({m}→{n})"
            );
        }
    }
    // short logits, or no cells, give an empty (background) map, not a panic
    assert_eq!(upsampled_argmax(&field(10), 5, 4), vec![0u8; 16]);
    assert!(upsampled_argmax(&field(CLASSES * 4), 2, 0).is_empty());
}

#[test]
fn cells_past_the_photo_count_for_no_part() {
    // a 4×4 map whose lower half is hat; the photo is 4 wide and `rows` high
    let parsing = |rows: f32| FaceParsing {
        to_map: Similarity::identity(),
        side: 4,
        labels: [[FacePart::Skin as u8; 8], [FacePart::Hat as u8; 8]].concat(),
        eye_distance: 2.0,
        right_eye: Point::new(1.0, 1.0),
        left_eye: Point::new(3.0, 1.0),
        image_size: (4.0, rows),
        lens_light: None,
    };
    let hat = |p: &FaceParsing| p.share(0.0, 4.0, 0.0, 4.0, &[FacePart::Hat]);
    assert_eq!(hat(&parsing(4.0)), 0.5);
    // the hat cells lie below a photo 2 rows high: the edge drawn out, not a hat
    assert_eq!(hat(&parsing(2.0)), 0.0);
    assert_eq!(hat(&parsing(3.0)), 1.0 / 3.0);
}

#[test]
fn a_share_among_the_head_leaves_the_background_out() {
    // rows of background, hair, hat and skin: a quarter of the map is hat, a third of the
    // head
    let labels = [
        FacePart::Background,
        FacePart::Hair,
        FacePart::Hat,
        FacePart::Skin,
    ]
    .iter()
    .flat_map(|&p| [p as u8; 4])
    .collect();
    let parsing = FaceParsing {
        to_map: Similarity::identity(),
        side: 4,
        labels,
        eye_distance: 2.0,
        right_eye: Point::new(1.0, 1.0),
        left_eye: Point::new(3.0, 1.0),
        image_size: (4.0, 4.0),
        lens_light: None,
    };
    let hat = [FacePart::Hat];
    assert_eq!(parsing.share(0.0, 4.0, 0.0, 4.0, &hat), 0.25);
    let head = parsing.share_among(0.0, 4.0, 0.0, 4.0, &hat, &[FacePart::Background]);
    assert_eq!(head, 1.0 / 3.0);
    // nothing but background: no share, not a division by zero
    let none = parsing.share_among(0.0, 4.0, 0.0, 1.0, &hat, &[FacePart::Background]);
    assert_eq!(none, 0.0);
    // the checks' hat share: above the brows (rows 0-2, with the eyes on row 3), half
    // the head there is hat; of the crop it would be a third
    let lower_eyes = FaceParsing {
        right_eye: Point::new(1.0, 3.5),
        left_eye: Point::new(3.0, 3.5),
        ..parsing
    };
    assert_eq!(lower_eyes.shares().hat_above_brows, 0.5);
}
