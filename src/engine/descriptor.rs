//! 128-D face descriptors (dlib ResNet) for 1:1 identity verification.

use super::detect::FaceDetection;
use super::models::{self, FaceModels, ModelError, DESCRIPTOR_SIDE};
use crate::geometry::{Point, Similarity};
use crate::imaging::{warp_into_f32, ChannelOrder, PixelRange};
use image::RgbImage;

/// Where the five points land in the 150×150 chip the descriptor was trained on.
const TEMPLATE: [Point; 5] = [
    Point::new(46.6, 47.6),
    Point::new(101.5, 45.9),
    Point::new(73.7, 72.9),
    Point::new(51.8, 98.7),
    Point::new(98.1, 97.1),
];

/// The dlib model's own decision distance.
pub const SAME_PERSON_DISTANCE: f32 = 0.6;

pub type FaceDescriptor = [f32; 128];

pub fn describe_face(
    models: &FaceModels,
    img: &RgbImage,
    face: &FaceDetection,
    scratch: &mut Vec<f32>,
) -> Result<FaceDescriptor, ModelError> {
    let n = DESCRIPTOR_SIDE;
    let to_chip = Similarity::estimate(&face.points, &TEMPLATE).ok_or(ModelError::Run {
        model: "face descriptor",
        reason: "degenerate landmarks".into(),
    })?;
    warp_into_f32(
        img,
        &to_chip,
        n,
        n,
        ChannelOrder::Chw,
        PixelRange::Raw255,
        scratch,
    );
    let out = models::run(
        &models.descriptor,
        "face descriptor",
        &[1, 3, n, n],
        scratch,
    )?;
    let v = models::output(&out, 0, "face descriptor")?;
    let mut d = [0.0; 128];
    if v.len() < 128 {
        return Err(ModelError::Run {
            model: "face descriptor",
            reason: "short output".into(),
        });
    }
    d.copy_from_slice(&v[..128]);
    Ok(d)
}

pub fn descriptor_distance(a: &FaceDescriptor, b: &FaceDescriptor) -> f32 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}
