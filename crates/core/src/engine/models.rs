//! Loading the ONNX face models once, optimised for the fixed input shapes the engine uses.
//!
//! The models ship in the project's `models/` folder (see `models/README.md` for provenance);
//! they are never fetched from a network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;
use tract_onnx::prelude::*;

pub(crate) type Plan = Arc<TypedRunnableModel>;

/// Longer input side of the still-image face detector (CenterFace), letterboxed; the shorter
/// is the image's, rounded up to a multiple of 32.
pub const DETECTOR_SIDE: usize = 384;
/// Input side of the fast live-guidance detector (MediaPipe short range).
pub const FAST_DETECTOR_SIDE: usize = 128;
/// Input side of the 468-point face mesh.
pub const MESH_SIDE: usize = 192;
/// Input side of the person/background segmentation.
pub const SEGMENTATION_SIDE: usize = 256;
/// Input side of the eye crop for the iris/eyelid model.
pub const IRIS_SIDE: usize = 64;
/// Input side of the face-parsing crop: 320 keeps a brow about 12 cells tall on a chip-sized
/// face and costs a quarter of the model's 512 (the fringe, hat and glasses figures of
/// `kiosk eval` were the same at 512). Smaller is faster but not cheaper for the candidate
/// (session 35, 683 photos): at 288 (the parsing 40 ms faster) 6 fewer glasses were caught and
/// 6, 10 and 10 more compliant photos failed glasses, hair_occlusion and headwear; at 256, 14
/// fewer glasses were caught. Parsing the mirrored crop too and averaging the two (session
/// 44, 683 photos) caught one more pair of glasses, hat and over-exposed face; glasses and
/// light_uniformity failed two fewer photos wrongly, headwear one fewer, hair_occlusion two
/// more; no more compliant photos passed. It doubled the parsing (dev build: full check 305 →
/// 490 ms median), so it was left out.
pub const PARSING_SIDE: usize = 320;
/// Input side of the aligned face chip for the descriptor.
pub const DESCRIPTOR_SIDE: usize = 150;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("model file {path} is missing: run the set-up in README.md or set KIOSK_MODELS_DIR")]
    Missing { path: PathBuf },
    #[error("model file {path} could not be loaded: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("inference failed in {model}: {reason}")]
    Run { model: &'static str, reason: String },
}

/// The still detector's plans, one per letterbox shape the kiosk meets. CenterFace is fully
/// convolutional, so a 16:9 capture runs at 384×224 instead of padding it to 384×384 (58 % of
/// the work); each shape is optimised once, at load.
pub(crate) struct StillDetectorPlans {
    path: PathBuf,
    plans: HashMap<(usize, usize), Plan>,
}

impl StillDetectorPlans {
    fn load(path: &Path, shapes: &[(usize, usize)]) -> Result<Self, ModelError> {
        let plans = shapes
            .iter()
            .map(|&(h, w)| Ok(((h, w), load_plan(path, &[1, 3, h, w])?)))
            .collect::<Result<HashMap<_, _>, ModelError>>()?;
        Ok(Self {
            path: path.to_owned(),
            plans,
        })
    }

    /// The plan for an input `h`×`w` (multiples of 32) and the shape it takes: that shape if
    /// it is one of those loaded, else the square. Only shapes loaded at start are used, so a
    /// photo is always analysed the same way whatever came before it (`kiosk eval` runs on
    /// two threads), and memory does not grow with odd-sized photos.
    pub(crate) fn for_shape(&self, h: usize, w: usize) -> Result<(Plan, usize, usize), ModelError> {
        let square = (DETECTOR_SIDE, DETECTOR_SIDE);
        let shape = if self.plans.contains_key(&(h, w)) {
            (h, w)
        } else {
            square
        };
        match self.plans.get(&shape) {
            Some(plan) => Ok((plan.clone(), shape.0, shape.1)),
            None => Err(ModelError::Load {
                path: self.path.clone(),
                reason: "the square detector plan is missing".into(),
            }),
        }
    }
}

/// The eight models the engine runs, each loaded and optimised once.
pub struct FaceModels {
    pub(crate) centerface: StillDetectorPlans,
    pub(crate) fast_detector: Plan,
    pub(crate) mesh: Plan,
    /// The mesh with refined eyes and lips: the still check's eyes and mouth, the live guide's
    /// mouth.
    pub(crate) attention: Plan,
    pub(crate) segmentation: Plan,
    pub(crate) descriptor: Plan,
    pub(crate) iris: Plan,
    pub(crate) parsing: Plan,
    /// Two threads for the matrix products of the still detector where a still's analysis
    /// runs it with nothing beside it, and of the face parsing, the longest model (about
    /// 0.2 s on one core). `kiosk bench`: the detector 48 → 28 ms on a 1080p still.
    two_threads: tract_linalg::multithread::Executor,
}

impl FaceModels {
    /// Loads every model from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let d = DETECTOR_SIDE;
        Ok(Self {
            // square (close-ups and any other shape), 16:9 captures, 4:3 frames, 3:4 photos
            centerface: StillDetectorPlans::load(
                &dir.join("centerface.onnx"),
                &[(d, d), (224, d), (288, d), (d, 288)],
            )?,
            fast_detector: load_plan(
                &dir.join("mp_face_detection_short_range.onnx"),
                &[1, FAST_DETECTOR_SIDE, FAST_DETECTOR_SIDE, 3],
            )?,
            mesh: load_plan(
                &dir.join("mp_face_landmark.onnx"),
                &[1, MESH_SIDE, MESH_SIDE, 3],
            )?,
            attention: load_plan(
                &dir.join("human_facemesh_attention.onnx"),
                &[1, MESH_SIDE, MESH_SIDE, 3],
            )?,
            segmentation: load_plan(
                &dir.join("mp_selfie_segmentation.onnx"),
                &[1, SEGMENTATION_SIDE, SEGMENTATION_SIDE, 3],
            )?,
            descriptor: load_plan(
                &dir.join("dlib_face_recognition_resnet_v1.onnx"),
                &[1, 3, DESCRIPTOR_SIDE, DESCRIPTOR_SIDE],
            )?,
            iris: load_plan(
                &dir.join("mp_iris_landmark.onnx"),
                &[1, IRIS_SIDE, IRIS_SIDE, 3],
            )?,
            parsing: load_plan(
                &dir.join("face_parsing_bisenet.onnx"),
                &[1, 3, PARSING_SIDE, PARSING_SIDE],
            )?,
            two_threads: tract_linalg::multithread::Executor::multithread_with_name(
                2,
                "face-models",
            ),
        })
    }

    /// Runs `f` with its models' matrix products split over two threads. Only for work the
    /// caller waits on with the cores otherwise idle: the live guide's per-frame models stay
    /// on their one thread, so the screen keeps the other core.
    pub(crate) fn on_two_threads<T>(&self, f: impl FnOnce() -> T) -> T {
        tract_linalg::multithread::multithread_tract_scope(self.two_threads.clone(), f)
    }

    /// Finds the `models/` folder: `$KIOSK_MODELS_DIR`, next to the executable (an installed
    /// kiosk), or the source tree this binary was built from (development and tests).
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("KIOSK_MODELS_DIR") {
            return PathBuf::from(dir);
        }
        if let Ok(exe) = std::env::current_exe() {
            for up in exe.ancestors().skip(1).take(4) {
                let candidate = up.join("models");
                if candidate.join("centerface.onnx").is_file() {
                    return candidate;
                }
            }
        }
        // the source tree's models/, two folders above this crate
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
    }
}

fn load_plan(path: &Path, shape: &[usize]) -> Result<Plan, ModelError> {
    if !path.is_file() {
        return Err(ModelError::Missing {
            path: path.to_owned(),
        });
    }
    let fail = |e: TractError| ModelError::Load {
        path: path.to_owned(),
        reason: format!("{e:#}"),
    };
    super::prelu::onnx()
        .model_for_path(path)
        .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(fail)
}

/// Runs `plan` on one f32 input of `shape` and returns every output as a flat f32 vector.
pub(crate) fn run(
    plan: &Plan,
    model: &'static str,
    shape: &[usize],
    input: &[f32],
) -> Result<TVec<TValue>, ModelError> {
    let fail = |e: TractError| ModelError::Run {
        model,
        reason: format!("{e:#}"),
    };
    let tensor = Tensor::from_shape(shape, input).map_err(fail)?;
    plan.run(tvec!(tensor.into())).map_err(fail)
}

/// The flat f32 contents of output `i`.
pub(crate) fn output<'a>(
    outputs: &'a TVec<TValue>,
    i: usize,
    model: &'static str,
) -> Result<&'a [f32], ModelError> {
    let fail = |e: TractError| ModelError::Run {
        model,
        reason: format!("{e:#}"),
    };
    let value = outputs.get(i).ok_or_else(|| ModelError::Run {
        model,
        reason: format!("no output {i}"),
    })?;
    value
        .try_as_plain_ram()
        .map_err(fail)?
        .as_slice::<f32>()
        .map_err(fail)
}
