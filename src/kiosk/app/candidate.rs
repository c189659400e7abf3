//! Everything the kiosk holds about the candidate in front of it, in one struct: a wipe
//! replaces it with its default, so a personal field added here cannot be left behind for the
//! next candidate.

use crate::catalog::Bilingual;
use crate::session::keypad::Keypad;
use image::RgbImage;

#[derive(Default)]
pub(super) struct CandidateData {
    /// The identification keypad's fields as typed.
    pub(super) keypad: Keypad,
    pub(super) candidate_key: String,
    /// The kiosk store's session row for this candidate.
    pub(super) session_id: Option<String>,
    /// The face to compare with: the chip photo or the roster's registration photo.
    pub(super) reference: Option<RgbImage>,
    /// The ID photo made (JPEG and pixels), its check report and the rows shown.
    pub(super) photo: Option<(Vec<u8>, RgbImage)>,
    pub(super) report_json: String,
    pub(super) check_rows: Vec<CheckLine>,
    pub(super) verification_distance: Option<f32>,
    /// The manual path's photographs so far (the session decides when each is taken).
    pub(super) documents: Vec<Vec<u8>>,
    pub(super) receipt_time: String,
    /// CHSI: the typed ID tail the collection code must end with.
    pub(super) scan_tail: String,
    /// The live guide's last prompt, distance and verdict.
    pub(super) live_prompt: Bilingual,
    pub(super) live_distance: Option<f32>,
    pub(super) live_good: bool,
    /// The live guide's prompt on show (after its steadiness rule), for the voice.
    pub(super) live_shown: Option<crate::guidance::Prompt>,
    /// The keypad's password is being checked on a worker.
    pub(super) password_checking: bool,
}

/// One line of the checks screen: the check's title, whether it passed, and why not.
#[derive(Clone, Debug)]
pub(super) struct CheckLine {
    pub(super) title: Bilingual,
    pub(super) ok: bool,
    pub(super) reason: Option<Bilingual>,
}
