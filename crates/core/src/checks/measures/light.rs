//! Light across the face: its two sides' brightness compared.

use super::{for_each_in, median, SkinPatches};
use crate::engine::{FaceMesh, FaceParsing, FacePart};
use crate::geometry::{BoundingBox, Point};
use crate::imaging::luma;
use image::RgbImage;

/// Darker side over brighter side of the face (1 = perfectly even), over the skin boxes whole.
pub fn light_uniformity(skin: &SkinPatches) -> f32 {
    let (r, l) = skin.side_medians();
    ratio(r, l)
}

/// Fewest pixels of skin a side's boxes must show for the parsed measure to stand.
const MIN_SKIN_PIXELS: usize = 30;

/// As [`light_uniformity`], over only the boxes' pixels the face parsing calls skin: a lock of
/// hair over one cheek or one side of the forehead is dark, and read whole the boxes called it
/// shadow (kiosk eval: of the compliant photos the boxes failed, a side-swept fringe down one
/// cheek read 0.57 and reads 0.77 on skin alone; none of the side-lit faces rose past the
/// limit). None when either side shows too little skin to say, as on a face the parsing
/// cannot read.
pub fn parsed_light_uniformity(
    img: &RgbImage,
    mesh: &FaceMesh,
    parsing: &FaceParsing,
) -> Option<f32> {
    let (right, left) = SkinPatches::boxes(mesh);
    let skin_lumas = |boxes: &[BoundingBox; 2]| {
        let mut v = Vec::new();
        for b in boxes {
            for_each_in(img, b, |x, y, p| {
                let at = Point::new(x as f32 + 0.5, y as f32 + 0.5);
                if parsing.part_at(at) == Some(FacePart::Skin) {
                    v.push(luma(p));
                }
            });
        }
        v
    };
    let (r, l) = (skin_lumas(&right), skin_lumas(&left));
    (r.len() >= MIN_SKIN_PIXELS && l.len() >= MIN_SKIN_PIXELS).then(|| ratio(median(r), median(l)))
}

fn ratio(r: f32, l: f32) -> f32 {
    if r.max(l) <= 1.0 {
        return 0.0;
    }
    r.min(l) / r.max(l)
}
