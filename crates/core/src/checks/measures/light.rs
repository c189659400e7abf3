//! Light across the face: its two sides' brightness compared.

use super::{median, SkinPatches};
use crate::engine::{FaceMesh, FaceParsing, FacePart};
use crate::geometry::{BoundingBox, Point};
use image::RgbImage;

/// Darker side over brighter side of the face (1 = perfectly even), over the skin boxes whole.
pub fn light_uniformity(skin: &SkinPatches) -> f32 {
    let (r, l) = skin.side_medians();
    side_ratio(r, l)
}

/// Darker over brighter of two sides' brightness (0 when both are black).
pub fn side_ratio(r: f32, l: f32) -> f32 {
    if r.max(l) <= 1.0 {
        return 0.0;
    }
    r.min(l) / r.max(l)
}

/// Least share of a side's box pixels the parsing must call skin for the side to be read on
/// skin alone: a side mostly hair or deep shadow the parsing calls something else would be
/// judged on its few brightest pixels.
const MIN_SKIN_SHARE: f32 = 0.25;

/// Each side's median luminance (subject's right, left) over only the skin boxes' pixels the
/// face parsing calls skin: a lock of hair over one cheek or one side of the forehead is dark,
/// and read whole the boxes called it shadow (kiosk eval: of the compliant photos the boxes
/// failed, a side-swept fringe down one cheek read 0.57 and reads 0.77 on skin alone; none of
/// the side-lit faces rose past the limit). None when either side shows too little skin to
/// say, as on a face the parsing cannot read.
pub fn parsed_light_sides(
    img: &RgbImage,
    mesh: &FaceMesh,
    parsing: &FaceParsing,
) -> Option<(f32, f32)> {
    let (right, left) = SkinPatches::boxes(mesh);
    let skin_median = |boxes: &[BoundingBox; 2]| {
        let (skin, all) = SkinPatches::lumas_where(img, boxes, |x, y| {
            parsing.part_at(Point::new(x as f32 + 0.5, y as f32 + 0.5)) == Some(FacePart::Skin)
        });
        (all > 0 && skin.len() as f32 >= all as f32 * MIN_SKIN_SHARE).then(|| median(skin))
    };
    Some((skin_median(&right)?, skin_median(&left)?))
}
