//! The face engine: from an RGB image to faces, landmarks, pose and a person mask.
//!
//! Architecture invariant: pure computation. It reads model files once at load time and never
//! touches a device, window, database or socket; images arrive as buffers.

mod attention;
mod descriptor;
mod detect;
mod iris;
mod mesh;
mod models;
mod parsing;
mod prelu;
mod segmentation;

pub use attention::RefinedFeatures;
pub use descriptor::{
    descriptor_distance, Alignment, DescribeOptions, FaceDescriptor, SAME_PERSON_DISTANCE,
};
pub use detect::{FaceDetection, FastDetector};
pub use iris::{read_eye, EyeReading, EyeSide};
pub use mesh::{idx as mesh_idx, roi_for_box, FaceMesh, HeadPose};
pub use models::{FaceModels, ModelError};
pub use parsing::{FaceParsing, FacePart, PartShares};
pub use segmentation::PersonMask;

use crate::geometry::Point;
use crate::imaging;
use image::RgbImage;
use std::sync::Arc;

/// The longer side of the copy a close-up is looked at again on (the detector's own input is
/// about this size).
const CLOSE_UP_SIDE: u32 = 320;

/// Faces smaller than this share of the largest face are background people far away, posters
/// or noise; they do not count as "several faces".
const SECOND_FACE_MIN_SHARE: f32 = 0.35;

/// Landmarks the checks and the photo maker work from, in image pixels.
#[derive(Clone, Debug)]
pub struct FaceGeometry {
    pub right_eye: Point,
    pub left_eye: Point,
    pub eye_mid: Point,
    /// Top of the head (hair included), from the person mask.
    pub crown: Point,
    /// The crown search ran off the top of the image: the head is cut off.
    pub crown_cut: bool,
    pub chin: Point,
    pub face_width: f32,
    /// Unit vector pointing up the face (from chin towards crown).
    pub up: Point,
}

impl FaceGeometry {
    pub fn head_height(&self) -> f32 {
        self.crown.distance(self.chin)
    }
}

/// The main face of a photo, fully analysed.
#[derive(Clone, Debug)]
pub struct Subject {
    pub detection: FaceDetection,
    pub mesh: FaceMesh,
    pub pose: HeadPose,
    /// Lid opening of the less open eye, from the iris model's eyelid contour.
    pub eye_openness: f32,
    /// Both eyes' openings and the iris size.
    pub eyes: EyeReading,
    /// The attention mesh's eyes and lips; `None` from `FaceEngine::locate_still`.
    pub refined: Option<RefinedFeatures>,
    pub geometry: FaceGeometry,
    pub mask: PersonMask,
    /// What each part of the face is (hair, hat, eyeglasses, mouth interior…); `None` from
    /// `FaceEngine::locate_still`.
    pub parsing: Option<FaceParsing>,
}

/// Whether an analysis parses the face's parts and refines its eyes and lips (the checks
/// need them; geometry does not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parts {
    Parsed,
    Skipped,
}

/// A worker's result; a worker that panicked is that model's failure, not the caller's panic.
fn joined<T>(
    worker: std::thread::ScopedJoinHandle<'_, Result<T, ModelError>>,
    model: &'static str,
    reason: &str,
) -> Result<T, ModelError> {
    worker.join().unwrap_or_else(|_| {
        Err(ModelError::Run {
            model,
            reason: reason.into(),
        })
    })
}

/// Everything the engine saw in one still image.
#[derive(Clone, Debug)]
pub struct StillAnalysis {
    pub width: u32,
    pub height: u32,
    /// Faces that count (see [`SECOND_FACE_MIN_SHARE`]), largest first.
    pub faces: Vec<FaceDetection>,
    pub subject: Option<Subject>,
}

/// The loaded models; cheap to clone and share between threads.
#[derive(Clone)]
pub struct FaceEngine {
    models: Arc<FaceModels>,
}

impl FaceEngine {
    pub fn new(models: FaceModels) -> Self {
        Self {
            models: Arc::new(models),
        }
    }

    pub fn load_default() -> Result<Self, ModelError> {
        Ok(Self::new(FaceModels::load(&FaceModels::default_dir())?))
    }

    pub fn models(&self) -> &FaceModels {
        &self.models
    }

    /// Detects faces (largest first), keeping only those that count. A still with no face
    /// found is looked at again as a close-up (the live guide does not: an empty kiosk would
    /// pay for it on every frame).
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<FaceDetection>, ModelError> {
        let mut scratch = Vec::new();
        let faces = self.detect_with(img, &mut scratch)?;
        if !faces.is_empty() {
            return Ok(faces);
        }
        let mut faces = self.detect_close_up(img, &mut scratch)?;
        faces.sort_by(|a, b| b.bbox.area().total_cmp(&a.bbox.area()));
        if let Some(largest) = faces.first().map(|f| f.bbox.width()) {
            faces.retain(|f| f.bbox.width() >= largest * SECOND_FACE_MIN_SHARE);
        }
        Ok(faces)
    }

    /// [`Self::detect`] with its products split over both cores: for a still's analysis,
    /// where nothing runs beside the detector. Verification, which describes two photos side
    /// by side, calls `detect` on each thread instead.
    pub fn detect_on_both_cores(&self, img: &RgbImage) -> Result<Vec<FaceDetection>, ModelError> {
        self.models.on_two_threads(|| self.detect(img))
    }

    /// `detect` with a caller's input buffer (the live guide reuses one across frames).
    pub fn detect_with(
        &self,
        img: &RgbImage,
        scratch: &mut Vec<f32>,
    ) -> Result<Vec<FaceDetection>, ModelError> {
        let mut faces = detect::detect_faces(&self.models, img, scratch)?;
        faces.sort_by(|a, b| b.bbox.area().total_cmp(&a.bbox.area()));
        if let Some(largest) = faces.first().map(|f| f.bbox.width()) {
            faces.retain(|f| f.bbox.width() >= largest * SECOND_FACE_MIN_SHARE);
        }
        Ok(faces)
    }

    /// A face that fills the picture (a close-up, a tight crop) is too big for the detector's
    /// anchors: look again at a copy shrunk to the detector's size with a grey margin around
    /// it, as if the camera were further away, and map what is found back. The copy is small
    /// whatever the photo's size (a margin at full resolution could take a gigabyte).
    fn detect_close_up(
        &self,
        img: &RgbImage,
        scratch: &mut Vec<f32>,
    ) -> Result<Vec<FaceDetection>, ModelError> {
        let (w, h) = img.dimensions();
        let side = CLOSE_UP_SIDE as f32;
        let k = (side / w.max(h).max(1) as f32).min(1.0);
        let (sw, sh) = (
            ((w as f32 * k).round() as u32).max(1),
            ((h as f32 * k).round() as u32).max(1),
        );
        let small = imaging::shrink_by_area(img, sw, sh);
        let pad = sw.max(sh) / 2;
        let mut framed = RgbImage::from_pixel(sw + 2 * pad, sh + 2 * pad, image::Rgb([128; 3]));
        image::imageops::replace(&mut framed, &small, pad as i64, pad as i64);
        let found = detect::detect_faces(&self.models, &framed, scratch)?;
        Ok(found
            .into_iter()
            .map(|f| f.mapped(-(pad as f32), -(pad as f32), 1.0 / k))
            .collect())
    }

    /// Full analysis of a still: detection, a refined mesh, pose, person mask, face parsing
    /// and geometry.
    pub fn analyze_still(&self, img: &RgbImage) -> Result<StillAnalysis, ModelError> {
        self.analyze_with(img, Parts::Parsed)
    }

    /// `analyze_still` without the face parsing: where only the geometry is wanted (the photo
    /// maker measuring the photo it made), at a third of the cost.
    pub fn locate_still(&self, img: &RgbImage) -> Result<StillAnalysis, ModelError> {
        self.analyze_with(img, Parts::Skipped)
    }

    fn analyze_with(&self, img: &RgbImage, parts: Parts) -> Result<StillAnalysis, ModelError> {
        let faces = self.detect_on_both_cores(img)?;
        let subject = match faces.first() {
            Some(face) => Some(self.analyze_subject(img, face, parts)?),
            None => None,
        };
        Ok(StillAnalysis {
            width: img.width(),
            height: img.height(),
            faces,
            subject,
        })
    }

    /// Mesh, pose, mask, geometry and (if asked) the face's parts for one detected face.
    fn analyze_subject(
        &self,
        img: &RgbImage,
        face: &FaceDetection,
        parts: Parts,
    ) -> Result<Subject, ModelError> {
        let mut scratch = Vec::new();
        // the mesh stays on one thread: split, its small products ran slower (kiosk bench
        // 18.5 → 22.7 ms)
        let mesh = self.mesh_for(img, face, &mut scratch)?;
        let pose = mesh.pose();
        let face_width = mesh.face_width();
        let chin = mesh.point(mesh_idx::CHIN);
        let eye_mid = mesh.right_eye().midpoint(mesh.left_eye());
        let angle = mesh.eye_angle();
        let up = Point::new(angle.sin(), -angle.cos());
        // the mask covers head and shoulders: centred below the eyes, ~4 face widths across
        let mask_centre = Point::new(
            eye_mid.x - up.x * face_width * 0.6,
            eye_mid.y - up.y * face_width * 0.6,
        );
        // the eyes, the face's parts and the person mask all need only the mesh: each on its
        // own thread (the parsing, the slowest, has its own pool), the mask on this one
        let (eyes, mask, parsing) = std::thread::scope(|scope| {
            let parsing = (parts == Parts::Parsed).then(|| {
                scope.spawn(|| {
                    let mut scratch = Vec::new();
                    parsing::parse_face(&self.models, img, &mesh, &mut scratch)
                })
            });
            let eyes = scope.spawn(|| {
                let mut scratch = Vec::new();
                let eyes = iris::read_eyes(&self.models, img, &mesh, &mut scratch)?;
                let refined = match parts {
                    Parts::Parsed => Some(self.refine(img, &mesh, &mut scratch)?),
                    Parts::Skipped => None,
                };
                Ok((eyes, refined))
            });
            let mask = segmentation::segment_person(
                &self.models,
                img,
                mask_centre,
                face_width * 4.2,
                &mut scratch,
            );
            let eyes = joined(eyes, "iris", "the eye reader stopped");
            let parsing = match parsing {
                Some(p) => joined(p, "face parsing", "the face parser stopped").map(Some),
                None => Ok(None),
            };
            (eyes, mask, parsing)
        });
        let ((eyes, refined), mask, parsing) = (eyes?, mask?, parsing?);
        let eye_openness = eyes.openness();
        let (crown, crown_cut) =
            find_crown(&mesh, &mask, up, face_width, img.width(), img.height());
        let geometry = FaceGeometry {
            right_eye: mesh.right_eye(),
            left_eye: mesh.left_eye(),
            eye_mid,
            crown,
            crown_cut,
            chin,
            face_width,
            up,
        };
        Ok(Subject {
            detection: face.clone(),
            mesh,
            pose,
            eye_openness,
            eyes,
            refined,
            geometry,
            mask,
            parsing,
        })
    }

    /// What the face parsing reads of the face `mesh` found: about 100 ms, so the live guide
    /// runs it aside on a frame now and then.
    pub fn parts(
        &self,
        img: &RgbImage,
        mesh: &FaceMesh,
        scratch: &mut Vec<f32>,
    ) -> Result<FaceParsing, ModelError> {
        parsing::parse_face(&self.models, img, mesh, scratch)
    }

    /// The attention mesh's eyes and lips on the crop the tracker takes around `mesh`.
    pub fn refine(
        &self,
        img: &RgbImage,
        mesh: &FaceMesh,
        scratch: &mut Vec<f32>,
    ) -> Result<RefinedFeatures, ModelError> {
        attention::refine(&self.models, img, mesh, scratch)
    }

    /// The mesh for a live frame: a pass on the detector's box, then one on the box the first
    /// mesh gives (a loose detector box on a small, far face otherwise misplaces the eyes).
    pub fn mesh_for(
        &self,
        img: &RgbImage,
        face: &FaceDetection,
        scratch: &mut Vec<f32>,
    ) -> Result<FaceMesh, ModelError> {
        let (centre, side) = mesh::roi_for_box(&face.bbox);
        let first = mesh::run_mesh(&self.models, img, centre, side, face.eye_angle(), scratch)?;
        let (centre, side) = mesh::roi_for_box(&first.bbox());
        mesh::run_mesh(&self.models, img, centre, side, first.eye_angle(), scratch)
    }

    /// One mesh pass on the crop the last frame's mesh gives, with no detector: MediaPipe's
    /// tracking. The caller judges the result by its `presence` and by [`FaceMesh::bbox`].
    pub fn track_mesh(
        &self,
        img: &RgbImage,
        last: &FaceMesh,
        scratch: &mut Vec<f32>,
    ) -> Result<FaceMesh, ModelError> {
        let (centre, side, angle) = mesh::tracking_crop(last);
        mesh::run_mesh(&self.models, img, centre, side, angle, scratch)
    }

    /// Person mask over the square of side `side` centred on `centre`.
    pub fn segment(
        &self,
        img: &RgbImage,
        centre: Point,
        side: f32,
    ) -> Result<PersonMask, ModelError> {
        let mut scratch = Vec::new();
        segmentation::segment_person(&self.models, img, centre, side, &mut scratch)
    }

    /// A 128-D descriptor of the largest face, for verification.
    pub fn describe(&self, img: &RgbImage) -> Result<Option<FaceDescriptor>, ModelError> {
        self.describe_with(img, &DescribeOptions::default())
    }
}

/// Walks up from the forehead along the face's axis until the person mask ends.
fn find_crown(
    mesh: &FaceMesh,
    mask: &PersonMask,
    up: Point,
    face_width: f32,
    w: u32,
    h: u32,
) -> (Point, bool) {
    let start = mesh.point(mesh_idx::FOREHEAD_TOP);
    let across = Point::new(-up.y, up.x);
    let max_steps = (face_width * 1.2).max(4.0) as usize;
    let mut rises = Vec::with_capacity(3);
    let mut cut = false;
    for k in [-0.15f32, 0.0, 0.15] {
        let base = Point::new(
            start.x + across.x * k * face_width,
            start.y + across.y * k * face_width,
        );
        let mut rise = max_steps as f32;
        for s in 0..max_steps {
            let p = Point::new(base.x + up.x * s as f32, base.y + up.y * s as f32);
            if p.x < 0.0 || p.y < 0.0 || p.x >= w as f32 || p.y >= h as f32 {
                cut = true;
                rise = s as f32;
                break;
            }
            if mask.at(p) < 0.5 {
                rise = s as f32;
                break;
            }
        }
        rises.push(rise);
    }
    rises.sort_by(|a, b| a.total_cmp(b));
    let rise = rises[1];
    (
        Point::new(start.x + up.x * rise, start.y + up.y * rise),
        cut,
    )
}
