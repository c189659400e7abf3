//! What the session speaks: its screens, the candidate it knows, the events it takes and the
//! effects it asks for.

use super::identify::RosterCheck;
use super::Rules;
use crate::hub_protocol::ReviewState;
use serde::Serialize;

/// The screens, in the order a candidate meets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Screen {
    Idle,
    StaffPin,
    StaffMenu,
    /// Staff: import a roster CSV from a USB stick.
    StaffImport,
    /// Staff: the audit trail.
    StaffAudit,
    /// Staff: set a new PIN.
    StaffNewPin,
    /// Staff: print a recent capture's photo sheet again.
    StaffReprint,
    /// Staff: choose the collection batch.
    StaffBatch,
    Identify,
    /// CHSI: the candidate holds the image-collection QR code up to the camera.
    ScanCode,
    ConfirmInfo,
    Consent,
    Guide,
    Live,
    Checks,
    Verify,
    Manual,
    Confirm,
    Receipt,
    Status,
    Failed,
    Failsafe,
}

impl Screen {
    /// Every screen, in the order above.
    pub const ALL: [Screen; 22] = [
        Screen::Idle,
        Screen::StaffPin,
        Screen::StaffMenu,
        Screen::StaffImport,
        Screen::StaffAudit,
        Screen::StaffNewPin,
        Screen::StaffReprint,
        Screen::StaffBatch,
        Screen::Identify,
        Screen::ScanCode,
        Screen::ConfirmInfo,
        Screen::Consent,
        Screen::Guide,
        Screen::Live,
        Screen::Checks,
        Screen::Verify,
        Screen::Manual,
        Screen::Confirm,
        Screen::Receipt,
        Screen::Status,
        Screen::Failed,
        Screen::Failsafe,
    ];

    /// Used in screenshot names and logs.
    pub fn name(self) -> &'static str {
        match self {
            Screen::Idle => "idle",
            Screen::StaffPin => "staff-pin",
            Screen::StaffMenu => "staff-menu",
            Screen::StaffImport => "staff-import",
            Screen::StaffAudit => "staff-audit",
            Screen::StaffNewPin => "staff-new-pin",
            Screen::StaffReprint => "staff-reprint",
            Screen::StaffBatch => "staff-batch",
            Screen::Identify => "identify",
            Screen::ScanCode => "scan-code",
            Screen::ConfirmInfo => "confirm-info",
            Screen::Consent => "consent",
            Screen::Guide => "guide",
            Screen::Live => "live",
            Screen::Checks => "checks",
            Screen::Verify => "verify",
            Screen::Manual => "manual",
            Screen::Confirm => "confirm",
            Screen::Receipt => "receipt",
            Screen::Status => "status",
            Screen::Failed => "collection-failed",
            Screen::Failsafe => "failsafe",
        }
    }

    /// Screens that show the camera preview.
    pub(super) fn camera_on(self) -> bool {
        matches!(self, Screen::Live | Screen::ScanCode)
    }

    /// Staff mode: left alone, it locks itself again after the idle timeout.
    pub fn is_staff(self) -> bool {
        matches!(
            self,
            Screen::StaffPin
                | Screen::StaffMenu
                | Screen::StaffImport
                | Screen::StaffAudit
                | Screen::StaffNewPin
                | Screen::StaffReprint
                | Screen::StaffBatch
        )
    }

    /// Screens where the candidate's data is on show (the idle timeout applies).
    pub(super) fn in_session(self) -> bool {
        !matches!(self, Screen::Idle | Screen::Failsafe) && !self.is_staff()
    }
}

/// What the session knows of the person in front of the kiosk.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Candidate {
    pub candidate_key: String,
    pub name: String,
    pub id_number: String,
    pub ethnicity: String,
    pub address: String,
    /// Identified by tapping a resident ID card (automatic verification possible).
    pub resident_card: bool,
    /// Another document (passport, permits): verification cannot be automatic (R-ID-4).
    pub other_document: bool,
    /// A reference face to compare with exists (chip photo decoded, or roster photo).
    pub has_reference_face: bool,
}

impl Candidate {
    /// Names with characters outside the BMP (R-ID-3).
    pub fn has_rare_characters(&self) -> bool {
        self.name.chars().any(|c| c as u32 > 0xFFFF)
    }
}

/// A returning candidate's latest record (R-STATUS).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PreviousRecord {
    pub record_id: String,
    /// None while queued or uploaded but not yet known at the hub.
    pub review: Option<ReviewState>,
    pub status_line: String,
}

/// What the kiosk must do as a consequence of an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    StartCamera,
    StopCamera,
    /// Make the ID photo from the latest capture and check it at full resolution.
    RunChecks,
    /// Compare the face with the reference and record the attempt (it counts, R-VERIFY).
    Verify,
    /// The camera on for the manual path's documents (R-MANUAL), forgetting any taken before.
    CaptureDocuments,
    /// Photograph the next document now; answered by `DocumentTaken` or `DocumentMissed`.
    PhotographDocument,
    /// Judge a QR code read on the scan screen (the first time it is seen, or again after a
    /// while): the collection code and the roster.
    JudgeCode {
        text: String,
    },
    /// Store the capture with its outbox row (durable) and wake the uploader.
    Submit {
        manual_review: bool,
    },
    Withdraw {
        record_id: String,
    },
    /// Forget everything about the candidate on screen and in memory.
    Wipe,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The hidden staff entry was touched.
    StaffEntry,
    PinChecked {
        ok: bool,
    },
    /// Staff chose a profile and batch and opened collection.
    StaffOpen,
    /// Staff leaves the menu (collection stays as it is).
    StaffClose,
    /// Staff ends the collection: no new candidate can start until it is opened again.
    StaffEndCollection,
    StaffImport,
    StaffAudit,
    StaffChangePin,
    StaffReprint,
    StaffBatch,
    /// Staff chose a batch.
    BatchChosen,
    /// A new staff PIN was stored.
    PinChanged,
    Start,
    /// The kiosk resolved an identity (card or keypad), matched the roster and looked up
    /// earlier records and failed attempts.
    Identified {
        candidate: Candidate,
        roster: RosterCheck,
        previous: Option<PreviousRecord>,
        failures_so_far: u32,
    },
    /// The keypad's fields are right; the collection QR code is still needed (CHSI).
    CodeNeeded,
    /// Identification failed; the message says whom to contact (never whether a number exists).
    IdentifyFailed(crate::text::Bilingual),
    Continue,
    Back,
    ConsentToggled,
    /// The checks on a capture finished.
    Checked {
        passed: bool,
    },
    Retake,
    Verified {
        passed: bool,
    },
    /// The faces could not be compared (no face in the reference): not an attempt; a
    /// reviewer compares instead (R-VERIFY).
    VerifyUnavailable,
    /// A document was photographed (`PhotographDocument`).
    DocumentTaken {
        now_ms: i64,
    },
    /// The camera had no frame for the document: it is tried again.
    DocumentMissed {
        now_ms: i64,
    },
    /// A camera frame arrived; on the live screen, with the guide's verdict (`good`: in
    /// position, lit and still).
    CameraFrame {
        now_ms: i64,
        good: Option<bool>,
    },
    /// The camera gave an error instead of a frame.
    CameraFailed {
        what: String,
        now_ms: i64,
    },
    /// The shutter button: a countdown, then the capture.
    ShutterPressed {
        now_ms: i64,
    },
    /// A QR code in view on the scan screen.
    CodeSeen {
        text: String,
        now_ms: i64,
    },
    Submitted {
        record_id: String,
        at_ms: i64,
    },
    SubmitFailed {
        reason: String,
    },
    /// The returning candidate withdraws the record pending review.
    Withdraw,
    Withdrawn,
    /// The hub could not withdraw the record now.
    WithdrawFailed {
        reason: String,
    },
    /// Staff chose another profile: its rules apply from the next candidate.
    ProfileChosen {
        rules: Rules,
    },
    Help,
    CloseHelp,
    /// Any touch: the idle timer starts again.
    Touch {
        now_ms: i64,
    },
    /// Time passes: the idle timeout may end the session.
    Tick {
        now_ms: i64,
    },
    /// The candidate (from help) or staff ends the session.
    End,
    DeviceLost {
        what: String,
    },
    DeviceBack,
}
