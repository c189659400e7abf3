//! Live guidance on camera frames: the one prompt to show now, steady across frames.
//!
//! Per frame: the fast detector (the still detector when no face is near), two mesh passes (the
//! second on the first's own box), then distance, position, light, pose, then glasses, hair,
//! hat and mouth (`appearance.rs`) from cheap measures, in that order; now and then the face
//! parsing and the attention mesh (too slow for every frame) read hat, fringe, frames, teeth
//! and the refined lips, aside, and their reading counts for the frames after (the mouth's
//! only while the frame's own mouth is as it was then).
//! The shown prompt must lose a few frames in a row before another replaces it, so the screen
//! does not flicker.
//! Architecture invariant: pure; frames arrive as buffers; the model input buffers are reused
//! between frames (the measures' small working vectors and tract's outputs are not).

use crate::catalog::ExamProfile;
use crate::checks::exposure::{ExposureFault, ExposureReading};
use crate::checks::measures::{self, SkinPatches};
use crate::checks::pose::{self, PoseFault};
use crate::engine::{
    roi_for_box, EyeSide, FaceDetection, FaceEngine, FaceMesh, FastDetector, HeadPose, ModelError,
};
use crate::geometry::Point;
use crate::imaging::luma;
use image::RgbImage;
use serde::Serialize;

mod appearance;
mod parts;
mod prompt;
mod ruler;
mod steady;
mod target;

use parts::PartsSeen;
pub use parts::{HighlightsReading, LightReading, PartsReading, PartsRequest, RefinedReading};
pub use prompt::Prompt;
pub use ruler::{
    distance_cm, CameraModel, FaceRuler, EYE_SPAN_IN_IRISES, IRIS_DIAMETER_CM, MEAN_EYE_DISTANCE_CM,
};
use ruler::{iris_share_held, IRIS_READING_BELIEVED};
pub use steady::{Steadiness, PROMPT_SWITCH_FRAMES};
pub use target::{face_in_target, face_target, FaceTarget, EYES_ACROSS, EYES_DOWN};

/// What the guide says for one frame.
#[derive(Clone, Debug, Serialize)]
pub struct Guidance {
    #[serde(flatten)]
    pub prompt: Prompt,
    pub text: crate::checks::Reason,
    pub distance_cm: Option<f32>,
    pub pose: Option<HeadPose>,
    /// Frames in a row with nothing to fix.
    pub steady_frames: u32,
}

pub struct LiveGuide {
    engine: FaceEngine,
    camera: CameraModel,
    distance_window: [f32; 2],
    glasses_forbidden: bool,
    limits: crate::checks::CheckLimits,
    detector: FastDetector,
    scratch: Vec<f32>,
    /// What the guide has learned of the candidate in view; forgotten at each camera start.
    seen: Candidate,
    /// Whether the slow look for a far face is done by someone else (the camera worker, on
    /// another thread) instead of holding up this frame.
    far_aside: bool,
    /// Counts candidates (a face lost, a camera start): a parsing answered aside for an
    /// earlier one is dropped, as its frame numbers are not this one's.
    candidate: u32,
}

/// The live guide's state about one candidate.
#[derive(Debug, Default)]
struct Candidate {
    /// The prompt on show, steady across frames.
    steadiness: Steadiness,
    steady: u32,
    last_eye: Option<(Point, Point)>,
    /// This candidate's iris diameter over their eye spacing, learned from the iris model on
    /// one frame in `IRIS_EVERY` (an eye at a time), so that every frame's distance rests on
    /// the iris like the still's does without paying for the iris model on every frame.
    iris_per_eye_span: Option<f32>,
    frames_with_face: u32,
    /// The last frame's mesh, which seeds the next frame's crop (tracking) until it is lost.
    tracked: Option<FaceMesh>,
    /// Frames tracked since the detector last looked for other faces.
    since_detect: u32,
    /// Frames in a row the fast detector found no face in.
    frames_without_face: u32,
    /// Faces the still detector found aside on a recent frame, for the next frame.
    far_faces: Option<Vec<FaceDetection>>,
    /// The guide would like the still detector to look at the current frame aside.
    far_wanted: bool,
    /// The face parsing's latest reading of this candidate (hat, fringe, frames, teeth).
    parts: PartsSeen,
}

/// Where the candidate's face is in one frame.
enum Located {
    Face(FaceMesh),
    NoFace,
    SeveralFaces,
}

/// While tracking, the detector still looks for a second face once in this many frames (a
/// sixth of a second at 30 fps): someone stepping into view is noticed almost at once, and
/// four frames in five skip the detector.
const DETECT_EVERY: u32 = 5;
/// With no face near the camera, the still detector looks for a far one on one frame in this
/// many (it takes several times a tracked frame's time).
const FAR_DETECT_EVERY: u32 = 6;
/// A tracked mesh this sure there is a face in its crop keeps the track (MediaPipe's default
/// tracking confidence).
const TRACK_PRESENCE: f32 = 0.5;
/// A tracked face that moved more than this share of its crop from the crop's centre, or
/// changed size by more than this share, is meshed once more on a crop around where it is
/// now: the mesh is best on a face centred in its crop, as the detector path's second pass.
const RECENTRE_SHARE: f32 = 0.08;

/// One frame in this many runs the iris model on one eye (a few ms) to keep the ruler fresh.
const IRIS_EVERY: u32 = 16;
/// The share of the still check's pose limits the guide holds a head to. The still check
/// reads another frame, at the capture's size: a head the guide let through at the very edge
/// of a limit read past it there, and cost the candidate an attempt (kiosk eval's photos in
/// a 960×540 frame: 5 of 10 such disagreements were poses within 5 % of a limit).
const POSE_MARGIN: f32 = 0.95;
/// Until the ruler is learned, one frame in this many tries.
const IRIS_RETRY_EVERY: u32 = 4;
/// How much brighter (mean luma) than the face's skin a frame must be for a face too dark in
/// it to be told the light behind it is the cause.
const BACKLIT_MARGIN: f32 = 70.0;

impl LiveGuide {
    pub fn new(
        engine: FaceEngine,
        camera: CameraModel,
        profile: &ExamProfile,
        spec_glasses_allowed: bool,
    ) -> Self {
        Self {
            engine,
            camera,
            distance_window: profile.distance_cm,
            glasses_forbidden: !(profile.glasses_allowed && spec_glasses_allowed),
            limits: profile.limits.clone(),
            detector: FastDetector::default(),
            scratch: Vec::with_capacity(192 * 192 * 3),
            seen: Candidate::default(),
            far_aside: false,
            candidate: 0,
        }
    }

    /// The ruler for this frame: the eyes and irises together once the irises' size against
    /// the eye spacing is learned, else the eyes.
    fn ruler(&mut self, img: &RgbImage, mesh: &FaceMesh) -> Result<FaceRuler, ModelError> {
        let eyes_px = mesh.right_eye().distance(mesh.left_eye());
        let n = self.seen.frames_with_face;
        self.seen.frames_with_face = n.wrapping_add(1);
        // while nothing is learned (glare, a lid over the iris, a far face) try more often,
        // but not on every frame
        let due = match self.seen.iris_per_eye_span {
            None => n % IRIS_RETRY_EVERY == 0,
            Some(_) => n % IRIS_EVERY == 0,
        };
        if due {
            let side = if (n / IRIS_EVERY) % 2 == 0 {
                EyeSide::Right
            } else {
                EyeSide::Left
            };
            let iris_px =
                crate::engine::read_eye(self.engine.models(), img, mesh, side, &mut self.scratch)?
                    .iris_px;
            // a reading no face could give (a lid or glare over the iris) is not learned from,
            // and is tried again soon; one that could is held to the edge of what faces span,
            // as the still's ruler holds it
            let believed = IRIS_READING_BELIEVED.contains(&(eyes_px / iris_px));
            if let Some(ratio) = iris_share_held(iris_px, eyes_px).filter(|_| believed) {
                self.seen.iris_per_eye_span = Some(match self.seen.iris_per_eye_span {
                    Some(old) => 0.7 * old + 0.3 * ratio,
                    None => ratio,
                });
            }
        }
        Ok(FaceRuler::new(
            eyes_px,
            self.seen.iris_per_eye_span.map(|r| r * eyes_px),
        ))
    }

    /// From now on, the slow look for a far face (the still detector, several tracked
    /// frames' time) is not done inside [`LiveGuide::frame`]: after a frame,
    /// [`LiveGuide::wants_far_look`] says whether that frame should be looked at aside, and
    /// [`LiveGuide::far_faces_found`] hands what was found to the next frame.
    pub fn far_look_aside(&mut self) {
        self.far_aside = true;
    }

    /// Whether the frame just read should be searched for a far face (once asked, false).
    pub fn wants_far_look(&mut self) -> bool {
        std::mem::take(&mut self.seen.far_wanted)
    }

    /// The face the guide would like parsed aside, on the frame just read (see
    /// [`LiveGuide::far_look_aside`]: the same worker runs both); once asked, None.
    pub fn wants_parts_look(&mut self) -> Option<PartsRequest> {
        self.seen.parts.take_request()
    }

    /// What the face parsing read of a face the guide asked about.
    pub fn parts_found(&mut self, reading: PartsReading) {
        if reading.candidate != self.candidate {
            return;
        }
        self.seen.parts.found(reading);
    }

    /// What the still detector found on a frame the guide asked about.
    pub fn far_faces_found(&mut self, faces: Vec<FaceDetection>) {
        if !faces.is_empty() {
            self.seen.far_faces = Some(faces);
        }
    }

    /// The engine the guide runs on.
    /// The oval the live screen draws for this guide's profile and camera on its
    /// `frame_width` × `frame_height` frames (see `target.rs`).
    pub fn target_on(&self, frame_width: u32, frame_height: u32) -> Option<FaceTarget> {
        face_target(
            &self.camera,
            self.distance_window,
            frame_width,
            frame_height,
        )
    }

    pub fn engine(&self) -> &FaceEngine {
        &self.engine
    }

    /// Forgets the last candidate: their irises, their last position and the prompt on show.
    /// The camera calls it at each start, as the next candidate may already be in view.
    pub fn reset(&mut self) {
        self.seen = Candidate::default();
        self.candidate = self.candidate.wrapping_add(1);
    }

    /// Reads one frame and returns the prompt to show.
    pub fn frame(&mut self, img: &RgbImage) -> Result<Guidance, ModelError> {
        let (raw, distance, pose, still) = self.read(img)?;
        let shown = self.seen.steadiness.settle(raw);
        self.seen.steady = if shown == Prompt::HoldStill && still {
            self.seen.steady + 1
        } else {
            0
        };
        let prompt = match (shown, distance) {
            (Prompt::MoveCloser { .. }, Some(d)) => Prompt::MoveCloser {
                cm: (d - self.distance_window[1]).max(1.0).round() as u32,
            },
            (Prompt::MoveBack { .. }, Some(d)) => Prompt::MoveBack {
                cm: (self.distance_window[0] - d).max(1.0).round() as u32,
            },
            (p, _) => p,
        };
        Ok(Guidance {
            prompt,
            text: prompt.text(),
            distance_cm: distance,
            pose,
            steady_frames: self.seen.steady,
        })
    }

    /// The raw prompt for this frame, the distance, the pose, and whether the face held still.
    fn read(
        &mut self,
        img: &RgbImage,
    ) -> Result<(Prompt, Option<f32>, Option<HeadPose>, bool), ModelError> {
        let mesh = match self.locate(img)? {
            Located::Face(mesh) => mesh,
            Located::NoFace => {
                self.seen.last_eye = None;
                // whoever steps up next has their own irises, hair and hat
                self.seen.iris_per_eye_span = None;
                self.seen.frames_with_face = 0;
                self.seen.parts = PartsSeen::default();
                self.candidate = self.candidate.wrapping_add(1);
                return Ok((Prompt::NoFace, None, None, false));
            }
            Located::SeveralFaces => {
                // stillness is measured against the candidate's own last frame, not a crowd's
                self.seen.last_eye = None;
                return Ok((Prompt::SeveralFaces, None, None, false));
            }
        };
        let (re, le) = (mesh.right_eye(), mesh.left_eye());
        let moved = self
            .seen
            .last_eye
            .map(|(a, b)| a.distance(re).max(b.distance(le)) / re.distance(le).max(1.0));
        self.seen.last_eye = Some((re, le));
        let camera = self.camera.at_width(img.width());
        let distance = self.ruler(img, &mesh)?.distance_cm(&camera);
        let frame = self.seen.frames_with_face;
        if self.seen.parts.due(frame) {
            if self.far_aside {
                self.seen.parts.ask(PartsRequest {
                    mesh: mesh.clone(),
                    frame,
                    candidate: self.candidate,
                });
            } else {
                let parsing = self.engine.parts(img, &mesh, &mut self.scratch)?;
                let refined = self.engine.refine(img, &mesh, &mut self.scratch)?;
                self.seen.parts.found(PartsReading {
                    shares: parsing.shares(),
                    light: LightReading::read(img, &mesh, &parsing),
                    highlights: HighlightsReading::read(img, &mesh, &parsing),
                    refined: Some(RefinedReading::read(img, &mesh, refined)),
                    frame,
                    candidate: self.candidate,
                });
            }
        }
        let pose = mesh.pose();
        let prompt = self.judge(img, &mesh, distance, pose);
        self.seen.tracked = Some(mesh);
        // still: the eyes moved less than 3% of their distance since the last frame
        let still = moved.is_some_and(|m| m < 0.03);
        Ok((prompt, Some(distance), Some(pose), still))
    }

    /// The candidate's face: tracked from the last frame's mesh while the track holds (one
    /// mesh pass, no detector), else found by the detectors and meshed afresh.
    fn locate(&mut self, img: &RgbImage) -> Result<Located, ModelError> {
        if let Some(last) = self.seen.tracked.take() {
            if let Some(mesh) = self.track(img, &last)? {
                self.seen.since_detect += 1;
                if self.seen.since_detect < DETECT_EVERY {
                    return Ok(Located::Face(mesh));
                }
                self.seen.since_detect = 0;
                // the slow timer: is someone else now in view?
                let faces = self.detector.detect(self.engine.models(), img)?;
                return Ok(if crowded(&faces) {
                    Located::SeveralFaces
                } else {
                    Located::Face(mesh)
                });
            }
        }
        self.seen.since_detect = 0;
        let mut faces = self.detector.detect(self.engine.models(), img)?;
        if faces.is_empty() {
            // the fast detector is built for faces near the camera; a candidate still far
            // away is found by the still detector, which is slow: in an empty room it looks
            // on one frame in a few, so the camera's frames are not dropped for it
            let misses = self.seen.frames_without_face;
            self.seen.frames_without_face = misses.wrapping_add(1);
            if let Some(far) = self.seen.far_faces.take() {
                // found by the still detector on a frame a moment ago (see `far_look_aside`)
                faces = far;
            } else if misses % FAR_DETECT_EVERY == 0 {
                if self.far_aside {
                    self.seen.far_wanted = true;
                } else {
                    faces = self.engine.detect_with(img, &mut self.scratch)?;
                }
            }
        }
        if !faces.is_empty() {
            self.seen.frames_without_face = 0;
        }
        if crowded(&faces) {
            return Ok(Located::SeveralFaces);
        }
        let Some(face) = faces
            .iter()
            .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
        else {
            return Ok(Located::NoFace);
        };
        Ok(Located::Face(self.engine.mesh_for(
            img,
            face,
            &mut self.scratch,
        )?))
    }

    /// The face where the last frame's mesh says it is, or None when the track is lost (the
    /// crop holds no face, or what it holds is not the same size of face).
    fn track(&mut self, img: &RgbImage, last: &FaceMesh) -> Result<Option<FaceMesh>, ModelError> {
        let mut mesh = self.engine.track_mesh(img, last, &mut self.scratch)?;
        let (centre, side) = roi_for_box(&last.bbox());
        let offset = |m: &FaceMesh| {
            let b = m.bbox();
            let size = (b.width().max(b.height()) * 1.5 / side - 1.0).abs();
            (b.centre().distance(centre) / side).max(size)
        };
        if mesh.presence >= TRACK_PRESENCE && offset(&mesh) > RECENTRE_SHARE {
            mesh = self.engine.track_mesh(img, &mesh, &mut self.scratch)?;
        }
        let width_ratio = mesh.face_width() / last.face_width().max(1.0);
        Ok((mesh.presence >= TRACK_PRESENCE && (0.7..=1.4).contains(&width_ratio)).then_some(mesh))
    }

    /// The prompt one frame's measures call for, before the steadiness rule (public for
    /// `kiosk bench`, which times it alone).
    pub fn judge(&self, img: &RgbImage, mesh: &FaceMesh, distance: f32, pose: HeadPose) -> Prompt {
        let [near, far] = self.distance_window;
        if distance > far {
            return Prompt::MoveCloser {
                cm: (distance - far).round() as u32,
            };
        }
        if distance < near {
            return Prompt::MoveBack {
                cm: (near - distance).round() as u32,
            };
        }
        let (w, h) = (img.width() as f32, img.height() as f32);
        let eyes = mesh.right_eye().midpoint(mesh.left_eye());
        // the camera faces the candidate: the image's left is the candidate's right. The
        // live screen's oval is drawn in the middle of this window (`target.rs`)
        if eyes.x < w * EYES_ACROSS[0] {
            return Prompt::MoveLeft;
        }
        if eyes.x > w * EYES_ACROSS[1] {
            return Prompt::MoveRight;
        }
        if eyes.y < h * EYES_DOWN[0] {
            return Prompt::MoveDown;
        }
        if eyes.y > h * EYES_DOWN[1] {
            return Prompt::MoveUp;
        }
        let l = &self.limits;
        // light first: bad light also throws off the pose and occlusion measures below
        let skin = SkinPatches::new(img, mesh);
        // the face parsing's and the attention mesh's reading from a moment ago, with the
        // still check's limits
        let aside = self.seen.parts.fresh(self.seen.frames_with_face);
        // the still check's own verdict, so that a prompt and the check never disagree: the
        // highlights on the parsing's skin while the light is as it was read
        let mut light = ExposureReading::read(img, mesh, &skin, None);
        if let Some(read) = aside.and_then(|r| r.highlights) {
            light.highlights = read.share(light.highlights);
        }
        match light.fault(l) {
            // a face too dark before a much brighter scene: the light behind is what is wrong.
            // Never on its own: a bright backdrop behind a well-lit face is what a collection
            // point wants and the still check passes (the demo's white backdrop was told
            // "too much light behind you" on every frame). A picture dim all over is not lit
            // from behind, however flat.
            Some(ExposureFault::Dark)
                if light.frame_highlight >= l.min_frame_highlight
                    && frame_mean_luma(img) > light.mean + BACKLIT_MARGIN =>
            {
                return Prompt::Backlit
            }
            Some(ExposureFault::Dark) => return Prompt::TooDark,
            Some(ExposureFault::Bright | ExposureFault::Clipped) => return Prompt::TooBright,
            None => {}
        }
        // as the still check: a head turned too far is told to look straight, not that the
        // light is uneven; the light read on the parsing's skin while it is as it was read
        let whole_boxes = measures::light_uniformity(&skin);
        let uniformity = aside
            .and_then(|r| r.light)
            .map_or(whole_boxes, |light| light.uniformity(whole_boxes));
        if measures::light_sides_comparable(pose.yaw, l.max_yaw_deg)
            && uniformity < l.min_light_uniformity
        {
            return Prompt::UnevenLight;
        }
        // as the still check: the axis furthest past its limit says which way to move
        let worst = pose::WorstAxis::of(&pose, l);
        if worst.past(POSE_MARGIN) {
            return match worst.fault {
                PoseFault::Turned => Prompt::LookStraight,
                PoseFault::Bowed => Prompt::RaiseChin,
                PoseFault::Raised => Prompt::LowerChin,
                PoseFault::Tilted => Prompt::StraightenHead,
            };
        }
        let appearance = appearance::Appearance {
            img,
            mesh,
            yaw: pose.yaw,
            skin: &skin,
            limits: l,
            glasses_forbidden: self.glasses_forbidden,
        };
        appearance.prompt(aside).unwrap_or(Prompt::HoldStill)
    }
}

/// Whether more than one face counts: faces smaller than a third of the largest are people
/// far behind, posters or noise.
fn crowded(faces: &[FaceDetection]) -> bool {
    let largest = faces.iter().map(|f| f.bbox.width()).fold(0.0, f32::max);
    faces
        .iter()
        .filter(|f| f.bbox.width() >= largest * 0.35)
        .count()
        > 1
}

/// Mean luma over a sparse grid (every 8th pixel): the frame's overall brightness.
fn frame_mean_luma(img: &RgbImage) -> f32 {
    let (mut sum, mut n) = (0.0, 0.0);
    for y in (0..img.height()).step_by(8) {
        for x in (0..img.width()).step_by(8) {
            sum += luma(img.get_pixel(x, y).0);
            n += 1.0;
        }
    }
    if n == 0.0 {
        0.0
    } else {
        sum / n
    }
}

#[cfg(test)]
mod tests;
