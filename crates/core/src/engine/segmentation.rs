//! Person/background segmentation (MediaPipe selfie model) over a square region of the image.

use super::models::{self, FaceModels, ModelError, SEGMENTATION_SIDE};
use crate::geometry::{Point, Similarity};
use crate::imaging::square_crop_unit;
use image::RgbImage;

/// A person-probability map over a square region of the image.
#[derive(Clone, Debug)]
pub struct PersonMask {
    /// Maps image pixels into mask cells.
    pub to_mask: Similarity,
    pub side: usize,
    pub probability: Vec<f32>,
}

impl PersonMask {
    /// Person probability at an image point (bilinear; 0 outside the region).
    pub fn at(&self, p: Point) -> f32 {
        let q = self.to_mask.apply(p);
        let n = self.side as f32;
        if q.x < 0.0 || q.y < 0.0 || q.x >= n || q.y >= n {
            return 0.0;
        }
        let x = (q.x - 0.5).clamp(0.0, n - 1.0);
        let y = (q.y - 0.5).clamp(0.0, n - 1.0);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.side - 1), (y0 + 1).min(self.side - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let v = |xx: usize, yy: usize| self.probability[yy * self.side + xx];
        let top = v(x0, y0) * (1.0 - fx) + v(x1, y0) * fx;
        let bottom = v(x0, y1) * (1.0 - fx) + v(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

/// Segments the square of side `side` centred on `centre` (upright).
pub fn segment_person(
    models: &FaceModels,
    img: &RgbImage,
    centre: Point,
    side: f32,
    scratch: &mut Vec<f32>,
) -> Result<PersonMask, ModelError> {
    let n = SEGMENTATION_SIDE;
    let to_mask = square_crop_unit(img, centre, side, 0.0, n, scratch);
    let out = models::run(&models.segmentation, "segmentation", &[1, n, n, 3], scratch)?;
    let probability = models::output(&out, 0, "segmentation")?.to_vec();
    if probability.len() < n * n {
        return Err(ModelError::Run {
            model: "segmentation",
            reason: "short output".into(),
        });
    }
    Ok(PersonMask {
        to_mask,
        side: n,
        probability,
    })
}
