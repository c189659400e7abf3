//! The face parsing and the attention mesh in the live guide. The parsing takes about 100 ms
//! on two threads, three frames' time, so both read one frame in `PARTS_EVERY` (a sixth of a
//! core on a 2-core kiosk), on the camera worker's side thread, and their reading stands for
//! the frames after it until `PARTS_FRESH` frames have passed: a hat, a fringe or lips parted
//! over teeth is prompted live with the still check's own limits, instead of only failing the
//! still.

use crate::checks::measures::{self, SkinPatches};
use crate::engine::{FaceMesh, FaceParsing, PartShares, RefinedFeatures};
use image::RgbImage;

/// One frame in this many with a face is parsed (a second at 30 fps: `kiosk bench-live` put
/// one in 15 at a third of a core, and a hat or fringe takes longer than that to fix).
const PARTS_EVERY: u32 = 30;
/// A reading older than this many frames no longer counts (two seconds at 30 fps): the hat
/// may be off by now, and a later reading is overdue.
const PARTS_FRESH: u32 = 2 * PARTS_EVERY;

/// A face to parse: the mesh found on the frame just read, and that frame's number.
#[derive(Clone, Debug)]
pub struct PartsRequest {
    pub mesh: FaceMesh,
    pub frame: u32,
    /// Which candidate the guide was looking at: frame numbers start again with each.
    pub candidate: u32,
}

/// How far the plain mesh's lip gap and teeth on a later frame may rise over those on the
/// frame read aside before the mouth counts as changed since (a smile begun after it). The
/// plain mesh's gap under a moustache wanders from frame to frame of the same still picture
/// (0.06 on the first frame, 0.13–0.14 tracked after), and a moustache's edge read as teeth
/// comes and goes with it, so the margins are wide; a smile with teeth shows 0.1 and more
/// of them between the plain lips, and its gap rises with them.
const MOUTH_MOVED_GAP: f32 = 0.08;
const MOUTH_MOVED_TEETH: f32 = 0.06;

/// What the attention mesh reads of a frame, for the guide: its features, and the teeth
/// between its inner lips measured as the still check measures them (the plain mesh's lips,
/// which the guide's own frames have, part closed lips under a moustache or a turned head);
/// with the plain mesh's gap and teeth on the same frame, so that a later frame can tell
/// whether the mouth is still as it was read.
#[derive(Clone, Copy, Debug)]
pub struct RefinedReading {
    pub features: RefinedFeatures,
    pub teeth: f32,
    /// Teeth between the refined lips told by their colour, as the still check tells them.
    pub tinted_teeth: f32,
    plain_gap: f32,
    plain_teeth: f32,
}

impl RefinedReading {
    pub fn read(img: &RgbImage, mesh: &FaceMesh, features: RefinedFeatures) -> Self {
        let skin = SkinPatches::new(img, mesh);
        RefinedReading {
            features,
            teeth: measures::teeth_share(img, mesh, &skin, Some(&features.lips_opening)),
            tinted_teeth: measures::tinted_teeth_share(img, mesh, &features.lips_opening)
                .unwrap_or(0.0),
            plain_gap: measures::mouth_gap(mesh, mesh.pose().yaw),
            plain_teeth: measures::teeth_share(img, mesh, &skin, None),
        }
    }

    /// Whether a later frame's mouth, by the plain mesh's `gap` and `teeth` there, is as it
    /// was when read: only then does the reading stand for it. A mouth that opened since is
    /// judged on the frame's own measures.
    pub fn mouth_as_read(&self, gap: f32, teeth: f32) -> bool {
        gap <= self.plain_gap + MOUTH_MOVED_GAP && teeth <= self.plain_teeth + MOUTH_MOVED_TEETH
    }
}

/// How far the skin boxes' light measure on a later frame may move from its value on the
/// frame read aside before the light counts as changed since (a lamp switched, the candidate
/// stepped into a shadow). On one still scene it wanders by a few hundredths with the mesh.
const LIGHT_MOVED: f32 = 0.08;

/// The light across the face as the still check reads it (on the parsing's skin), with the
/// skin boxes' whole reading on the same frame, so that a later frame's change of light can be
/// carried onto it.
#[derive(Clone, Copy, Debug)]
pub struct LightReading {
    pub on_skin: f32,
    whole_boxes: f32,
}

impl LightReading {
    /// None when the parsing shows too little skin on a side to say.
    pub fn read(img: &RgbImage, mesh: &FaceMesh, parsing: &FaceParsing) -> Option<Self> {
        let (r, l) = measures::parsed_light_sides(img, mesh, parsing)?;
        Some(LightReading {
            on_skin: measures::side_ratio(r, l),
            whole_boxes: measures::light_uniformity(&SkinPatches::new(img, mesh)),
        })
    }

    /// The light measure for a later frame whose skin boxes read `whole_boxes`: the reading on
    /// skin moved by as much as the boxes moved since, so light that worsens a little is
    /// prompted as the still check will fail it; once they moved further (another light, or
    /// the hair moved), the frame's own.
    pub fn uniformity(&self, whole_boxes: f32) -> f32 {
        carried(self.on_skin, self.whole_boxes, whole_boxes, LIGHT_MOVED)
    }
}

/// A share read on the parsing's skin, `on_skin`, for a later frame: moved by as much as the
/// share read over the whole region moved since (from `whole_then` to `whole_now`), while that
/// is no more than `tolerance`; past it, the scene changed and the frame's own whole reading
/// stands.
fn carried(on_skin: f32, whole_then: f32, whole_now: f32, tolerance: f32) -> f32 {
    let moved = whole_now - whole_then;
    if moved.abs() <= tolerance {
        (on_skin + moved).clamp(0.0, 1.0)
    } else {
        whole_now
    }
}

/// How far the whole outline's highlights on a later frame may move from their value on the
/// frame read aside before the light counts as changed since. On one still scene they wander
/// by a few thousandths with the mesh; the still check fails a face past 0.01.
const HIGHLIGHTS_MOVED: f32 = 0.005;

/// The face's highlights as the still check reads them (on the parsing's skin), with the whole
/// outline's reading on the same frame, carried onto a later frame as the light is.
#[derive(Clone, Copy, Debug)]
pub struct HighlightsReading {
    on_skin: f32,
    whole_outline: f32,
}

impl HighlightsReading {
    /// None when the parsing calls too little of the face skin to say.
    pub fn read(img: &RgbImage, mesh: &FaceMesh, parsing: &FaceParsing) -> Option<Self> {
        Some(HighlightsReading {
            on_skin: measures::parsed_face_highlights(img, mesh, parsing)?,
            whole_outline: measures::face_highlights(img, mesh),
        })
    }

    /// The highlights for a later frame whose whole outline reads `whole_outline`: the reading
    /// on skin moved by as much as the outline's since; once that moved further (a lamp came
    /// on, the candidate stepped into the sun), the frame's own.
    pub fn share(&self, whole_outline: f32) -> f32 {
        carried(
            self.on_skin,
            self.whole_outline,
            whole_outline,
            HIGHLIGHTS_MOVED,
        )
    }
}

/// What the parsing and the attention mesh read of the face asked about.
#[derive(Clone, Copy, Debug)]
pub struct PartsReading {
    pub shares: PartShares,
    /// None when the parsing showed too little skin to read the light by.
    pub light: Option<LightReading>,
    /// None when the parsing showed too little skin to read highlights on.
    pub highlights: Option<HighlightsReading>,
    /// None when the attention mesh failed on that frame: the parsing's shares still count.
    pub refined: Option<RefinedReading>,
    pub frame: u32,
    pub candidate: u32,
}

/// The guide's parsing state for the candidate in view; a new candidate starts afresh.
#[derive(Debug, Default)]
pub(super) struct PartsSeen {
    latest: Option<PartsReading>,
    /// A request the worker has not taken yet.
    request: Option<PartsRequest>,
    /// The frame of the last request, answered or not: the next is due `PARTS_EVERY` later.
    asked: Option<u32>,
}

impl PartsSeen {
    /// Whether frame `frame` (counted from the candidate's first) should be parsed.
    pub(super) fn due(&self, frame: u32) -> bool {
        self.asked
            .is_none_or(|asked| frame.wrapping_sub(asked) >= PARTS_EVERY)
    }

    pub(super) fn ask(&mut self, request: PartsRequest) {
        self.asked = Some(request.frame);
        self.request = Some(request);
    }

    pub(super) fn take_request(&mut self) -> Option<PartsRequest> {
        self.request.take()
    }

    pub(super) fn found(&mut self, reading: PartsReading) {
        // frame numbers wrap: "newer" is "less than half the range ahead"
        let newer = |old: u32| reading.frame.wrapping_sub(old) < u32::MAX / 2;
        // a reading made in place (no worker) was never asked for: it counts as asked, so
        // the next is due `PARTS_EVERY` frames after it, not on every frame
        if self.asked.is_none_or(newer) {
            self.asked = Some(reading.frame);
        }
        // a late answer never replaces a newer one
        if self.latest.is_none_or(|l| newer(l.frame)) {
            self.latest = Some(reading);
        }
    }

    /// The latest reading, while it is fresh at frame `now`.
    pub(super) fn fresh(&self, now: u32) -> Option<&PartsReading> {
        self.latest
            .as_ref()
            .filter(|l| now.wrapping_sub(l.frame) <= PARTS_FRESH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(frame: u32, hat: f32) -> PartsReading {
        PartsReading {
            shares: PartShares {
                hat_above_brows: hat,
                ..Default::default()
            },
            light: None,
            highlights: None,
            refined: None,
            frame,
            candidate: 0,
        }
    }

    #[test]
    fn the_light_read_on_skin_stands_until_the_frames_own_light_moves() {
        let read = LightReading {
            on_skin: 0.8,
            whole_boxes: 0.6,
        };
        // the same scene: the reading on skin stands
        assert_eq!(read.uniformity(0.6), 0.8);
        // the light a little worse or better since: carried onto the reading on skin, so a
        // face evenly lit at 0.78 whose light falls to 0.71 is told, as the still will fail it
        assert!((read.uniformity(0.55) - 0.75).abs() < 1e-6);
        assert!((read.uniformity(0.65) - 0.85).abs() < 1e-6);
        // a shadow fell across the face since, or a lamp came on: the frame's own reading
        assert_eq!(read.uniformity(0.45), 0.45);
        assert_eq!(read.uniformity(0.9), 0.9);
    }

    #[test]
    fn highlights_read_on_skin_stand_until_the_frames_own_move() {
        // a white backdrop inside the outline of a turned head: 0.015 whole, none on skin
        let read = HighlightsReading {
            on_skin: 0.0,
            whole_outline: 0.015,
        };
        assert_eq!(read.share(0.015), 0.0);
        assert!((read.share(0.018) - 0.003).abs() < 1e-6);
        assert_eq!(read.share(0.012), 0.0);
        // the light came up since: the frame's own reading, which the still check would fail
        assert_eq!(read.share(0.04), 0.04);
    }

    #[test]
    fn a_reading_counts_until_it_is_stale_and_parsing_comes_round_again() {
        let mut seen = PartsSeen::default();
        assert!(seen.due(1), "the first face is parsed at once");
        assert!(seen.fresh(1).is_none());
        seen.found(reading(1, 0.5));
        assert!(!seen.due(2));
        assert!(seen.due(1 + PARTS_EVERY));
        assert_eq!(seen.fresh(30).map(|p| p.shares.hat_above_brows), Some(0.5));
        assert!(seen.fresh(1 + PARTS_FRESH + 1).is_none(), "stale");
    }

    #[test]
    fn readings_made_in_place_come_round_once_in_parts_every() {
        // no worker: the guide parses in place when due and hands itself the reading
        let mut seen = PartsSeen::default();
        let parsed: Vec<u32> = (1..=3 * PARTS_EVERY)
            .filter(|&frame| {
                let due = seen.due(frame);
                if due {
                    seen.found(reading(frame, 0.0));
                }
                due
            })
            .collect();
        assert_eq!(parsed, [1, 1 + PARTS_EVERY, 1 + 2 * PARTS_EVERY]);
    }

    #[test]
    fn a_late_answer_does_not_replace_a_newer_one() {
        let mut seen = PartsSeen::default();
        seen.found(reading(20, 0.0));
        seen.found(reading(5, 0.6));
        assert_eq!(seen.fresh(21).map(|p| p.shares.hat_above_brows), Some(0.0));
    }

    #[test]
    fn a_request_is_handed_over_once() {
        let mut seen = PartsSeen::default();
        let mesh = FaceMesh {
            points: Vec::new(),
            presence: 1.0,
        };
        seen.ask(PartsRequest {
            mesh,
            frame: 3,
            candidate: 0,
        });
        assert!(!seen.due(4));
        assert_eq!(seen.take_request().map(|r| r.frame), Some(3));
        assert!(seen.take_request().is_none());
    }
}
