//! 128-D face descriptors (dlib ResNet) for 1:1 identity verification.
//!
//! The network was trained on 150×150 chips that dlib cuts (`extract_image_chip`) from an
//! image pyramid: never a point-sampled shrink of a large face, nor a blocky enlargement of a
//! small one. The kiosk cuts its chips the same way, which matters most for the ID card's
//! 102×126 photo, whose eyes are ~26 px apart against ~53 px in the chip:
//!
//! 1. the region around the face is first resampled, once and with a good filter, to the
//!    chip's own scale (Lanczos when enlarging, an area average when shrinking), with the
//!    detector's landmarks carried into that copy, so that the final bilinear warp moves
//!    pixels by about one;
//! 2. the descriptors of the chip and of its mirror image are averaged (dlib's `num_jitters`
//!    idea at its cheapest: a face is nearly symmetric, the noise in the two chips is not);
//! 3. and so are those of the chip cut 10 % tighter and 10 % looser (dlib's jitter also
//!    zooms): six chips in all, which steadies the descriptor against where the detector's
//!    five points happened to fall.
//!
//! On `tests/eval/pairs.csv` (201 same, 810 different pairs; `kiosk eval-verify`) the equal
//! error rate went 1.11 % → 1.05 % on full photos, 0.74 % → 0.74 % with one side the
//! 102×126 chip, 1.73 % → 1.49 % with that chip squeezed into the card's 1 KB, where the
//! same-person pairs refused at 0.6 fell from 13 to 3. The face mesh's landmarks (its five
//! points, or dlib's 68-point shape fitted by least squares) aligned worse than the
//! detector's five on that set (chip in 1 KB: 1.73 %, full photos up to 1.73 %); they are
//! kept as options to compare, not used.
//!
//! The zooms (3.) came later, when the pairs had grown and the card's codec stand-in had
//! changed (measured then without them: full photos 1.05 %, 102×126 chip 0.99 %, chip in
//! 1 KB 1.24 %). With them: 0.62 %, 0.74 % and 1.24 %.

use super::detect::FaceDetection;
use super::mesh::FaceMesh;
use super::models::{self, FaceModels, ModelError, DESCRIPTOR_SIDE};
use super::{mesh_idx, FaceEngine};
use crate::geometry::{Point, Similarity};
use crate::imaging::{warp_into_f32, warp_rgb, Border, ChannelOrder, InputLayout, PixelRange};
use image::imageops::{self, FilterType};
use image::RgbImage;

/// Where the detector's five points land in the chip (eye centres, nose tip, mouth corners):
/// the first alignment, kept for comparisons (`kiosk eval-verify --alignment detector5`).
const DETECTOR_TEMPLATE: [Point; 5] = [
    Point::new(46.6, 47.6),
    Point::new(101.5, 45.9),
    Point::new(73.7, 72.9),
    Point::new(51.8, 98.7),
    Point::new(98.1, 97.1),
];

/// The mesh's mouth corners: the subject's right (image left) and left.
const MOUTH_CORNER_RIGHT: usize = 61;
const MOUTH_CORNER_LEFT: usize = 291;

/// dlib's padding around the mean face shape in the chip (`compute_face_descriptor`'s default).
const CHIP_PADDING: f32 = 0.25;

/// dlib's mean 68-point face shape (points 27–54 and 60–64: nose, eyes, upper mouth; the
/// points `get_face_chip_details` fits, without brows, jaw and lower lip) on the unit face
/// square, with the mesh point that marks the same place (the usual MediaPipe→iBUG-68 map).
const DLIB68: [(f32, f32, usize); 33] = [
    // nose bridge and base (27–35)
    (0.490_127, 0.203_352, 168),
    (0.490_127, 0.307_009, 197),
    (0.490_127, 0.409_805, 5),
    (0.490_127, 0.515_625, 4),
    (0.366_88, 0.587_326, 75),
    (0.426_036, 0.609_345, 97),
    (0.490_127, 0.628_106, 2),
    (0.554_217, 0.609_345, 326),
    (0.613_373, 0.587_326, 305),
    // subject's right eye (36–41), image left
    (0.121_737, 0.216_423, 33),
    (0.187_122, 0.178_758, 160),
    (0.265_825, 0.179_852, 158),
    (0.334_606, 0.231_733, 133),
    (0.260_918, 0.245_099, 153),
    (0.182_743, 0.244_077, 144),
    // subject's left eye (42–47)
    (0.645_647, 0.231_733, 362),
    (0.714_428, 0.179_852, 385),
    (0.793_132, 0.178_758, 387),
    (0.858_516, 0.216_423, 263),
    (0.797_51, 0.244_077, 373),
    (0.719_335, 0.245_099, 380),
    // outer upper lip and corners (48–54)
    (0.254_149, 0.780_233, 61),
    (0.340_985, 0.745_405, 39),
    (0.428_858, 0.727_388, 37),
    (0.490_127, 0.742_578, 0),
    (0.551_395, 0.727_388, 267),
    (0.639_268, 0.745_405, 269),
    (0.726_104, 0.780_233, 291),
    // inner upper lip (60–64)
    (0.290_379, 0.784_792, 78),
    (0.428_096, 0.778_746, 82),
    (0.490_127, 0.785_343, 13),
    (0.552_157, 0.778_746, 312),
    (0.689_874, 0.784_792, 308),
];

/// Distance between the eye centres in the chip (dlib's 5-point eye corners, averaged).
const CHIP_EYE_DISTANCE: f32 = 0.5255 / (1.0 + 2.0 * CHIP_PADDING) * DESCRIPTOR_SIDE as f32;

/// The working copy spans this many chip widths around the face, so that the mesh's own crop
/// (about twice the face box) stays inside real pixels.
const WORKING_SPAN: f32 = 2.0;

/// The distance under which two faces are the same person. dlib's own is 0.6 for one chip;
/// the average over zoomed and mirrored chips (`ZOOMS`) has less noise, so different people
/// also come a little closer: at 0.59 the card's photo (the chip in 1 KB) is refused and
/// accepted wrongly about as often as with one chip pair at 0.6 (`kiosk eval-verify`).
pub const SAME_PERSON_DISTANCE: f32 = 0.59;

/// The chip's scales about its centre whose descriptors are averaged. dlib's `num_jitters`
/// zooms by ~3 % with small shifts and turns, at random; fixed zooms are repeatable, and
/// ±10 % measured best here (`kiosk eval-verify`: ±4 % changed nothing, ±14 % was worse).
const ZOOMS: [f32; 3] = [0.9, 1.0, 1.1];

pub type FaceDescriptor = [f32; 128];

/// Which landmarks put the face into the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alignment {
    /// The detector's five points on a fitted template (the first version).
    Detector5,
    /// The same five places (eye centres, nose tip, mouth corners) read from the face mesh,
    /// on the same template.
    Mesh5,
    /// The mesh's 33 points that match dlib's 68-point shape (nose, eyes, upper mouth).
    Mesh68,
}

/// How a descriptor is made; the default is the kiosk's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescribeOptions {
    pub alignment: Alignment,
    /// Resample the face to the chip's scale with a good filter before landmarking.
    pub resample: bool,
    /// Average with the mirrored chip's descriptor.
    pub mirror: bool,
    /// Average over the chip cut at the scales in `ZOOMS`, not only at 1.
    pub zoom: bool,
}

impl Default for DescribeOptions {
    fn default() -> Self {
        Self {
            alignment: Alignment::Detector5,
            resample: true,
            mirror: true,
            zoom: true,
        }
    }
}

impl FaceEngine {
    /// A descriptor of the largest face made as `options` say (see the module's notes).
    pub fn describe_with(
        &self,
        img: &RgbImage,
        options: &DescribeOptions,
    ) -> Result<Option<FaceDescriptor>, ModelError> {
        let mut scratch = Vec::new();
        let Some((working, to_chip)) = self.align(img, options, &mut scratch)? else {
            return Ok(None);
        };
        let img = working.as_ref().unwrap_or(img);
        let zooms: &[f32] = if options.zoom { &ZOOMS } else { &[1.0] };
        let mut sum = [0.0f32; 128];
        let mut chips = 0.0f32;
        for &zoom in zooms {
            let to_chip = zoomed(&to_chip, zoom);
            for mirrored in [false, true] {
                if mirrored && !options.mirror {
                    continue;
                }
                let d = describe_chip(&self.models, img, &to_chip, mirrored, &mut scratch)?;
                for (a, b) in sum.iter_mut().zip(d) {
                    *a += b;
                }
                chips += 1.0;
            }
        }
        let d = sum.map(|v| v / chips);
        Ok(Some(d))
    }

    /// The 150×150 chip the descriptor sees, as a picture (to look at the alignment).
    pub fn descriptor_chip(
        &self,
        img: &RgbImage,
        options: &DescribeOptions,
    ) -> Result<Option<RgbImage>, ModelError> {
        let mut scratch = Vec::new();
        Ok(self
            .align(img, options, &mut scratch)?
            .map(|(working, to_chip)| {
                let side = DESCRIPTOR_SIDE as u32;
                warp_rgb(working.as_ref().unwrap_or(img), &to_chip, side, side)
            }))
    }

    /// The largest face's transform into the chip, and the resampled copy it applies to
    /// (`None`: the photo itself).
    fn align(
        &self,
        img: &RgbImage,
        options: &DescribeOptions,
        scratch: &mut Vec<f32>,
    ) -> Result<Option<(Option<RgbImage>, Similarity)>, ModelError> {
        let faces = self.detect(img)?;
        let Some(face) = faces.first() else {
            return Ok(None);
        };
        let (working, face) = if options.resample {
            let (copy, moved) = at_chip_scale(img, face);
            (Some(copy), moved)
        } else {
            (None, face.clone())
        };
        let view = working.as_ref().unwrap_or(img);
        let to_chip = match options.alignment {
            Alignment::Detector5 => Similarity::estimate(&face.points, &DETECTOR_TEMPLATE),
            Alignment::Mesh5 => {
                let mesh = self.mesh_for(view, &face, scratch)?;
                let points = [
                    mesh.right_eye(),
                    mesh.left_eye(),
                    mesh.point(mesh_idx::NOSE_TIP),
                    mesh.point(MOUTH_CORNER_RIGHT),
                    mesh.point(MOUTH_CORNER_LEFT),
                ];
                Similarity::estimate(&points, &DETECTOR_TEMPLATE)
            }
            Alignment::Mesh68 => fit_shape(&self.mesh_for(view, &face, scratch)?, &DLIB68),
        }
        .ok_or(ModelError::Run {
            model: "face descriptor",
            reason: "degenerate landmarks".into(),
        })?;
        Ok(Some((working, to_chip)))
    }
}

/// `to_chip` followed by a zoom by `zoom` about the chip's centre (above 1: the face larger).
fn zoomed(to_chip: &Similarity, zoom: f32) -> Similarity {
    let c = DESCRIPTOR_SIDE as f32 * 0.5;
    Similarity {
        a: to_chip.a * zoom,
        b: to_chip.b * zoom,
        tx: to_chip.tx * zoom + (1.0 - zoom) * c,
        ty: to_chip.ty * zoom + (1.0 - zoom) * c,
    }
}

/// The similarity that puts the mesh's points on dlib's shape in the 150×150 chip.
fn fit_shape(mesh: &FaceMesh, shape: &[(f32, f32, usize)]) -> Option<Similarity> {
    if mesh.points.len() < 468 {
        return None;
    }
    let chip = |v: f32| (CHIP_PADDING + v) / (1.0 + 2.0 * CHIP_PADDING) * DESCRIPTOR_SIDE as f32;
    let (src, dst): (Vec<Point>, Vec<Point>) = shape
        .iter()
        .map(|&(x, y, i)| (mesh.point(i), Point::new(chip(x), chip(y))))
        .unzip();
    Similarity::estimate(&src, &dst)
}

/// A copy of the region around `face`, resampled so that its eyes are as far apart as in the
/// chip, and the face moved into the copy's coordinates.
fn at_chip_scale(img: &RgbImage, face: &FaceDetection) -> (RgbImage, FaceDetection) {
    let eyes = face.points[0].distance(face.points[1]).max(1.0);
    let k = CHIP_EYE_DISTANCE / eyes;
    let half = WORKING_SPAN * DESCRIPTOR_SIDE as f32 / k * 0.5;
    let c = face.bbox.centre();
    let (w, h) = img.dimensions();
    let x0 = (c.x - half).floor().clamp(0.0, w as f32 - 1.0) as u32;
    let y0 = (c.y - half).floor().clamp(0.0, h as f32 - 1.0) as u32;
    let x1 = ((c.x + half).ceil() as u32).clamp(x0 + 1, w);
    let y1 = ((c.y + half).ceil() as u32).clamp(y0 + 1, h);
    let (cw, ch) = (x1 - x0, y1 - y0);
    let out_w = ((cw as f32 * k).round() as u32).max(1);
    let k = out_w as f32 / cw as f32;
    let out_h = ((ch as f32 * k).round() as u32).max(1);
    let region = imageops::crop_imm(img, x0, y0, cw, ch).to_image();
    // Lanczos keeps edges sharp when enlarging; shrinking with a widened triangle is an area
    // average (image's resize widens the kernel by the scale)
    let filter = if k > 1.0 {
        FilterType::Lanczos3
    } else {
        FilterType::Triangle
    };
    let copy = imageops::resize(&region, out_w, out_h, filter);
    (copy, face.clone().mapped(-(x0 as f32), -(y0 as f32), k))
}

fn describe_chip(
    models: &FaceModels,
    img: &RgbImage,
    to_chip: &Similarity,
    mirrored: bool,
    scratch: &mut Vec<f32>,
) -> Result<FaceDescriptor, ModelError> {
    let n = DESCRIPTOR_SIDE;
    warp_into_f32(
        img,
        to_chip,
        n,
        n,
        InputLayout {
            order: ChannelOrder::Chw,
            range: PixelRange::Raw255,
            border: Border::Repeat,
        },
        scratch,
    );
    if mirrored {
        for row in scratch.chunks_exact_mut(n) {
            row.reverse();
        }
    }
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
