//! The candidate's session as a pure state machine: events in, the next screen and the effects
//! the kiosk must carry out (camera on/off, checks, verification, submit, wipe) out. It knows
//! no window, device or database; `src/kiosk/` runs the effects and feeds back their results.
//!
//! idle →(staff unlock)→ identify → confirm info → consent → guide → live → checks →
//! verification → confirm → receipt, with the manual path (R-MANUAL), the status of a
//! returning candidate (R-STATUS), help and the idle timeout (R-HELP), and a failsafe screen
//! when a device is lost.

pub mod identify;

use crate::catalog::{ExamProfile, IdentityCheck};
use crate::hub_protocol::ReviewState;
use identify::RosterCheck;
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
    fn camera_on(self) -> bool {
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
    fn in_session(self) -> bool {
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
    /// Photograph the ID card front, back and the candidate holding it (R-MANUAL).
    CaptureDocuments,
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
    IdentifyFailed {
        zh: String,
        en: String,
    },
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
    DocumentsCaptured,
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

/// The rules a profile gives the session.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    pub verify_faces: bool,
    pub attempt_limit: u32,
    /// After the limit: the manual path, or collection failed (bj-chengkao).
    pub fail_collection_after_limit: bool,
    pub consent_pre_ticked: bool,
    pub idle_timeout_ms: i64,
}

impl Rules {
    pub fn from_profile(p: &ExamProfile) -> Rules {
        Rules {
            verify_faces: p.identity_check == IdentityCheck::FaceVsId,
            attempt_limit: p.attempt_limit,
            fail_collection_after_limit: p.after_attempts == "collection-failed",
            consent_pre_ticked: p.consent_pre_ticked,
            idle_timeout_ms: 120_000,
        }
    }
}

/// A notice on the current screen (zh, en).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notice {
    pub zh: String,
    pub en: String,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub screen: Screen,
    pub rules: Rules,
    /// Staff opened collection (a profile and batch are chosen).
    pub open: bool,
    pub help_open: bool,
    pub candidate: Option<Candidate>,
    pub roster: RosterCheck,
    pub previous: Option<PreviousRecord>,
    pub consent_ticked: bool,
    pub checks_passed: bool,
    pub failures: u32,
    pub verified: Option<bool>,
    pub manual_review: bool,
    pub receipt: Option<(String, i64)>,
    pub notice: Option<Notice>,
    pub busy: bool,
    last_touch_ms: i64,
    screen_before_failsafe: Screen,
}

fn notice(zh: &str, en: &str) -> Option<Notice> {
    Some(Notice {
        zh: zh.into(),
        en: en.into(),
    })
}

impl Session {
    pub fn new(rules: Rules) -> Session {
        Session {
            screen: Screen::Idle,
            rules,
            open: false,
            help_open: false,
            candidate: None,
            roster: RosterCheck::default(),
            previous: None,
            consent_ticked: false,
            checks_passed: false,
            failures: 0,
            verified: None,
            manual_review: false,
            receipt: None,
            notice: None,
            busy: false,
            last_touch_ms: 0,
            screen_before_failsafe: Screen::Idle,
        }
    }

    /// Attempts left before the limit (R-VERIFY); None when the profile has no limit.
    pub fn attempts_left(&self) -> Option<u32> {
        (self.rules.attempt_limit > 0)
            .then(|| self.rules.attempt_limit.saturating_sub(self.failures))
    }

    fn wipe(&mut self, fx: &mut Vec<Effect>) {
        self.candidate = None;
        self.roster = RosterCheck::default();
        self.previous = None;
        self.consent_ticked = false;
        self.checks_passed = false;
        self.failures = 0;
        self.verified = None;
        self.manual_review = false;
        self.receipt = None;
        self.notice = None;
        self.help_open = false;
        self.busy = false;
        if self.screen.camera_on() {
            fx.push(Effect::StopCamera);
        }
        fx.push(Effect::Wipe);
        self.screen = Screen::Idle;
    }

    fn go(&mut self, screen: Screen) {
        self.screen = screen;
        self.notice = None;
    }

    /// Where a candidate goes after passing the checks.
    fn after_checks(&mut self, fx: &mut Vec<Effect>) {
        let c = self.candidate.clone().unwrap_or_default();
        // a reference face (chip photo or registration photo) and nothing that makes the
        // comparison untrustworthy (R-ID-3, R-ID-4)
        let automatic = !c.other_document && !c.has_rare_characters() && c.has_reference_face;
        let untrusted = c.other_document || c.has_rare_characters();
        if self.manual_review {
            self.go(Screen::Confirm);
        } else if untrusted {
            // R-ID-3, R-ID-4: the reviewer needs the document photographed, whatever the profile
            self.go(Screen::Manual);
        } else if !self.rules.verify_faces {
            self.go(Screen::Confirm);
        } else if automatic {
            self.go(Screen::Verify);
            self.busy = true;
            fx.push(Effect::Verify);
        } else {
            // no trustworthy reference: R-ID-3, R-ID-4, no chip decoder and no roster photo
            self.go(Screen::Manual);
        }
    }

    /// Applies an event; returns the effects to carry out, in order.
    // `if`s inside arms are deliberate: as guards, a refused event would fall through to a
    // later arm (a refused retake on the status screen would end the session).
    #[allow(clippy::collapsible_match)]
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut fx = Vec::new();
        use Event as E;
        use Screen as S;
        match (self.screen, event) {
            (_, E::Touch { now_ms }) => self.last_touch_ms = now_ms,
            (s, E::Tick { now_ms }) => {
                // while busy (checks running) the timeout waits, but not for ever
                let idle = now_ms - self.last_touch_ms;
                if s.in_session()
                    && idle > self.rules.idle_timeout_ms
                    && (!self.busy || idle > 3 * self.rules.idle_timeout_ms)
                {
                    self.wipe(&mut fx);
                }
                if s.is_staff() && idle > self.rules.idle_timeout_ms {
                    // staff walked away: lock the menu again
                    self.go(S::Idle);
                }
            }
            (S::Failsafe, E::DeviceBack) => {
                self.screen = self.screen_before_failsafe;
                if self.screen == S::Live {
                    fx.push(Effect::StartCamera);
                }
            }
            (s, E::DeviceLost { what }) => {
                if s != S::Failsafe {
                    self.screen_before_failsafe = if s.in_session() { S::Idle } else { s };
                    if s.camera_on() {
                        fx.push(Effect::StopCamera);
                    }
                    if s.in_session() {
                        self.wipe(&mut fx);
                    }
                    self.screen = S::Failsafe;
                    self.notice = Some(Notice {
                        zh: format!("设备故障：{what}，请联系工作人员"),
                        en: format!("Device problem: {what}. Please ask the staff."),
                    });
                }
            }
            (_, E::Help) => self.help_open = true,
            (_, E::CloseHelp) => self.help_open = false,
            (s, E::End) if s.in_session() => self.wipe(&mut fx),
            (S::Idle | S::Failsafe, E::StaffEntry) => self.go(S::StaffPin),
            (S::StaffPin, E::PinChecked { ok: true }) => self.go(S::StaffMenu),
            (S::StaffPin, E::PinChecked { ok: false }) => {
                self.notice = notice("PIN 不正确", "Wrong PIN")
            }
            (S::StaffPin, E::Back) | (S::StaffMenu, E::StaffClose) => self.go(S::Idle),
            (S::StaffMenu, E::StaffOpen) => {
                self.open = true;
                self.go(S::Idle);
            }
            (S::StaffMenu, E::StaffEndCollection) => {
                self.open = false;
                self.notice = None;
            }
            (S::StaffMenu, E::StaffImport) => self.go(S::StaffImport),
            (S::StaffMenu, E::StaffAudit) => self.go(S::StaffAudit),
            (S::StaffMenu, E::StaffChangePin) => self.go(S::StaffNewPin),
            (S::StaffMenu, E::StaffReprint) => self.go(S::StaffReprint),
            (S::StaffMenu, E::StaffBatch) => self.go(S::StaffBatch),
            (S::StaffBatch, E::BatchChosen) => self.go(S::StaffMenu),
            (S::StaffNewPin, E::PinChanged) => {
                self.go(S::StaffMenu);
                self.notice = notice("新 PIN 已生效", "The new PIN is in use");
            }
            (
                S::StaffImport | S::StaffAudit | S::StaffNewPin | S::StaffReprint | S::StaffBatch,
                E::Back,
            ) => self.go(S::StaffMenu),
            (S::Idle, E::Start) if self.open => self.go(S::Identify),
            (S::Identify, E::Back) => self.wipe(&mut fx),
            (S::Identify | S::ScanCode, E::IdentifyFailed { zh, en }) => {
                self.notice = Some(Notice { zh, en })
            }
            (S::Identify, E::CodeNeeded) => {
                self.go(S::ScanCode);
                fx.push(Effect::StartCamera);
            }
            (S::ScanCode, E::Back) => {
                fx.push(Effect::StopCamera);
                self.go(S::Identify);
            }
            (
                s @ (S::Identify | S::ScanCode),
                E::Identified {
                    candidate,
                    roster,
                    previous,
                    failures_so_far,
                },
            ) => {
                if s == S::ScanCode {
                    fx.push(Effect::StopCamera);
                }
                self.candidate = Some(candidate);
                self.roster = roster;
                self.failures = failures_so_far;
                self.consent_ticked = self.rules.consent_pre_ticked;
                let collection_failed = self.rules.fail_collection_after_limit
                    && self.rules.attempt_limit > 0
                    && self.failures >= self.rules.attempt_limit;
                let returning = previous.is_some();
                self.previous = previous;
                if collection_failed {
                    self.go(S::Failed);
                } else if returning {
                    self.go(S::Status);
                } else {
                    self.go(S::ConfirmInfo);
                }
            }
            (S::Status, E::Continue) => {
                // retake after a rejection or a withdrawal
                if self.previous.as_ref().is_some_and(|p| {
                    matches!(
                        p.review,
                        Some(ReviewState::Rejected | ReviewState::Withdrawn)
                    )
                }) {
                    self.go(S::ConfirmInfo);
                }
            }
            (S::Status, E::Withdrawn) => {
                if let Some(p) = &mut self.previous {
                    p.review = Some(ReviewState::Withdrawn);
                    p.status_line = "已撤回 · withdrawn".into();
                }
                self.busy = false;
            }
            (S::Status, E::Withdraw) => {
                // withdraw only while pending review (R-STATUS)
                if let Some(p) = &self.previous {
                    if p.review == Some(ReviewState::PendingReview) {
                        self.busy = true;
                        fx.push(Effect::Withdraw {
                            record_id: p.record_id.clone(),
                        });
                    }
                }
            }
            (S::ConfirmInfo, E::Continue) => {
                if self.roster.is_blocked() {
                    self.notice = notice(
                        "信息与报名记录不一致，不能继续，请联系工作人员",
                        "Your details do not match the registration; please ask the staff",
                    );
                } else {
                    self.go(S::Consent);
                }
            }
            (S::ConfirmInfo, E::Back) | (S::Consent, E::Back) => self.wipe(&mut fx),
            (S::Consent, E::ConsentToggled) => self.consent_ticked = !self.consent_ticked,
            (S::Consent, E::Continue) => {
                if self.consent_ticked {
                    self.go(S::Guide);
                } else {
                    self.notice = notice(
                        "请先阅读并同意采集须知",
                        "Please read and accept the collection rules first",
                    );
                }
            }
            (S::Guide, E::Back) => self.go(S::Consent),
            (S::Live, E::Back) => {
                fx.push(Effect::StopCamera);
                self.go(S::Guide);
            }
            (S::Guide, E::Continue) => {
                self.go(S::Live);
                fx.push(Effect::StartCamera);
            }
            (S::Live, E::Continue) => {
                // the shutter: automatic after a steady good period, or the button
                self.busy = true;
                fx.push(Effect::StopCamera);
                fx.push(Effect::RunChecks);
                self.go(S::Checks);
            }
            (S::Checks, E::Checked { passed }) => {
                self.busy = false;
                self.checks_passed = passed;
            }
            (S::Checks, E::Retake) | (S::Verify, E::Retake) | (S::Confirm, E::Retake) => {
                if self.screen != S::Verify || self.verified != Some(true) {
                    self.verified = None;
                    self.checks_passed = false;
                    self.go(S::Live);
                    fx.push(Effect::StartCamera);
                }
            }
            (S::Checks, E::Continue) if self.checks_passed && !self.busy => {
                self.after_checks(&mut fx)
            }
            (S::Verify, E::Verified { passed }) => {
                self.busy = false;
                self.verified = Some(passed);
                if !passed {
                    self.failures += 1;
                    if self.rules.attempt_limit > 0 && self.failures >= self.rules.attempt_limit {
                        if self.rules.fail_collection_after_limit {
                            self.go(S::Failed);
                        } else {
                            self.manual_review = true;
                            self.go(S::Manual);
                        }
                    }
                }
            }
            (S::Verify, E::Continue) if self.verified == Some(true) => self.go(S::Confirm),
            (S::Verify, E::VerifyUnavailable) => {
                self.busy = false;
                self.manual_review = true;
                self.go(S::Manual);
            }
            (S::Manual, E::Continue) => {
                self.busy = true;
                fx.push(Effect::CaptureDocuments);
            }
            (S::Manual, E::DocumentsCaptured) => {
                self.busy = false;
                self.manual_review = true;
                self.go(S::Confirm);
            }
            (S::Confirm, E::Continue) if !self.busy => {
                self.busy = true;
                fx.push(Effect::Submit {
                    manual_review: self.manual_review,
                });
            }
            (S::Confirm, E::Submitted { record_id, at_ms }) => {
                self.busy = false;
                self.receipt = Some((record_id, at_ms));
                self.go(S::Receipt);
            }
            (S::Confirm, E::SubmitFailed { reason }) => {
                self.busy = false;
                self.notice = Some(Notice {
                    zh: format!("保存失败，请联系工作人员（{reason}）"),
                    en: format!("Could not save; please ask the staff ({reason})"),
                });
            }
            (S::Receipt | S::Failed | S::Status, E::Continue | E::Back) => self.wipe(&mut fx),
            _ => {}
        }
        fx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(limit: u32, fail: bool) -> Rules {
        Rules {
            verify_faces: true,
            attempt_limit: limit,
            fail_collection_after_limit: fail,
            consent_pre_ticked: false,
            idle_timeout_ms: 60_000,
        }
    }

    fn card_holder() -> Candidate {
        Candidate {
            candidate_key: "26440101234567".into(),
            name: "张三".into(),
            id_number: "11010519491231002X".into(),
            resident_card: true,
            has_reference_face: true,
            ..Candidate::default()
        }
    }

    fn to_checks(s: &mut Session, candidate: Candidate, failures: u32) {
        s.handle(Event::StaffEntry);
        s.handle(Event::PinChecked { ok: true });
        s.handle(Event::StaffOpen);
        s.handle(Event::Start);
        s.handle(Event::Identified {
            candidate,
            roster: RosterCheck {
                on_roster: true,
                ..RosterCheck::default()
            },
            previous: None,
            failures_so_far: failures,
        });
        s.handle(Event::Continue);
        s.handle(Event::ConsentToggled);
        s.handle(Event::Continue);
        assert_eq!(s.handle(Event::Continue), vec![Effect::StartCamera]);
        assert_eq!(
            s.handle(Event::Continue),
            vec![Effect::StopCamera, Effect::RunChecks]
        );
        s.handle(Event::Checked { passed: true });
    }

    #[test]
    fn a_full_session_ends_with_a_receipt_and_a_wipe() {
        let mut s = Session::new(rules(3, false));
        to_checks(&mut s, card_holder(), 0);
        assert_eq!(s.handle(Event::Continue), vec![Effect::Verify]);
        s.handle(Event::Verified { passed: true });
        s.handle(Event::Continue);
        assert_eq!(s.screen, Screen::Confirm);
        assert_eq!(
            s.handle(Event::Continue),
            vec![Effect::Submit {
                manual_review: false
            }]
        );
        s.handle(Event::Submitted {
            record_id: "r".into(),
            at_ms: 1,
        });
        assert_eq!(s.screen, Screen::Receipt);
        assert_eq!(s.handle(Event::Continue), vec![Effect::Wipe]);
        assert!(s.candidate.is_none() && s.screen == Screen::Idle && s.open);
    }

    #[test]
    fn the_collection_code_is_scanned_with_the_camera_on_and_off_again() {
        let mut s = Session::new(rules(0, false));
        s.handle(Event::StaffEntry);
        s.handle(Event::PinChecked { ok: true });
        s.handle(Event::StaffOpen);
        s.handle(Event::Start);
        assert_eq!(s.handle(Event::CodeNeeded), vec![Effect::StartCamera]);
        assert_eq!(s.screen, Screen::ScanCode);
        // a wrong code keeps the camera scanning, with the reason on screen
        assert!(s
            .handle(Event::IdentifyFailed {
                zh: "不是采集码".into(),
                en: "not a code".into()
            })
            .is_empty());
        assert!(s.notice.is_some() && s.screen == Screen::ScanCode);
        // back to the keypad to correct the ID tail, then the scan again
        assert_eq!(s.handle(Event::Back), vec![Effect::StopCamera]);
        assert_eq!(s.screen, Screen::Identify);
        s.handle(Event::CodeNeeded);
        let fx = s.handle(Event::Identified {
            candidate: card_holder(),
            roster: RosterCheck {
                on_roster: true,
                ..RosterCheck::default()
            },
            previous: None,
            failures_so_far: 0,
        });
        assert_eq!(
            (fx, s.screen),
            (vec![Effect::StopCamera], Screen::ConfirmInfo)
        );
        // the idle timeout on the scan screen turns the camera off with the wipe
        s.handle(Event::Back);
        s.handle(Event::Start);
        s.handle(Event::CodeNeeded);
        assert_eq!(
            s.handle(Event::Tick { now_ms: 1_000_000 }),
            vec![Effect::StopCamera, Effect::Wipe]
        );
    }

    #[test]
    fn staff_tools_return_to_the_menu_and_a_forgotten_menu_locks_itself() {
        let mut s = Session::new(rules(3, false));
        s.handle(Event::StaffEntry);
        s.handle(Event::PinChecked { ok: true });
        s.handle(Event::StaffOpen);
        assert!(s.open);
        s.handle(Event::StaffEntry);
        s.handle(Event::PinChecked { ok: true });
        for (tool, screen) in [
            (Event::StaffImport, Screen::StaffImport),
            (Event::StaffAudit, Screen::StaffAudit),
            (Event::StaffChangePin, Screen::StaffNewPin),
            (Event::StaffReprint, Screen::StaffReprint),
            (Event::StaffBatch, Screen::StaffBatch),
        ] {
            s.handle(tool);
            assert_eq!(s.screen, screen);
            s.handle(Event::Back);
            assert_eq!(s.screen, Screen::StaffMenu);
        }
        s.handle(Event::StaffChangePin);
        s.handle(Event::PinChanged);
        assert!(s.screen == Screen::StaffMenu && s.notice.is_some());
        // ending the collection: nobody can start until staff opens it again
        s.handle(Event::StaffEndCollection);
        s.handle(Event::StaffClose);
        s.handle(Event::Start);
        assert_eq!((s.open, s.screen), (false, Screen::Idle));
        // staff mode left open locks itself after the idle timeout, wiping nothing
        s.handle(Event::StaffEntry);
        s.handle(Event::PinChecked { ok: true });
        s.handle(Event::StaffAudit);
        assert!(s.handle(Event::Tick { now_ms: 30_000 }).is_empty());
        assert_eq!(s.screen, Screen::StaffAudit);
        assert!(s.handle(Event::Tick { now_ms: 70_000 }).is_empty());
        assert_eq!(s.screen, Screen::Idle);
    }

    #[test]
    fn three_failures_lead_to_the_manual_path_and_five_to_collection_failed() {
        let mut s = Session::new(rules(3, false));
        to_checks(&mut s, card_holder(), 1);
        s.handle(Event::Continue);
        s.handle(Event::Verified { passed: false });
        assert_eq!((s.screen, s.attempts_left()), (Screen::Verify, Some(1)));
        s.handle(Event::Retake);
        s.handle(Event::Continue);
        s.handle(Event::Checked { passed: true });
        s.handle(Event::Continue);
        s.handle(Event::Verified { passed: false });
        assert_eq!(s.screen, Screen::Manual);
        assert_eq!(s.handle(Event::Continue), vec![Effect::CaptureDocuments]);
        s.handle(Event::DocumentsCaptured);
        assert_eq!(
            s.handle(Event::Continue),
            vec![Effect::Submit {
                manual_review: true
            }]
        );

        let mut bj = Session::new(rules(5, true));
        to_checks(&mut bj, card_holder(), 4);
        bj.handle(Event::Continue);
        bj.handle(Event::Verified { passed: false });
        assert_eq!(bj.screen, Screen::Failed);
        // coming back after five failures: no further attempts
        let mut again = Session::new(rules(5, true));
        again.open = true;
        again.handle(Event::Start);
        again.handle(Event::Identified {
            candidate: card_holder(),
            roster: RosterCheck::default(),
            previous: None,
            failures_so_far: 5,
        });
        assert_eq!(again.screen, Screen::Failed);
    }

    #[test]
    fn rare_names_and_other_documents_take_the_manual_path() {
        let mut s = Session::new(rules(3, false));
        let mut c = card_holder();
        c.name = "𠮷田".into();
        to_checks(&mut s, c, 0);
        assert_eq!(s.handle(Event::Continue), vec![]);
        assert_eq!(s.screen, Screen::Manual);
    }

    #[test]
    fn blocked_roster_mismatch_and_missing_consent_stop_the_flow() {
        let mut s = Session::new(rules(3, false));
        s.open = true;
        s.handle(Event::Start);
        s.handle(Event::Identified {
            candidate: card_holder(),
            roster: RosterCheck {
                blocked: vec!["name"],
                warned: vec![],
                on_roster: true,
            },
            previous: None,
            failures_so_far: 0,
        });
        s.handle(Event::Continue);
        assert_eq!(s.screen, Screen::ConfirmInfo);
        assert!(s.notice.is_some());
        s.roster = RosterCheck::default();
        s.handle(Event::Continue);
        s.handle(Event::Continue);
        assert_eq!(s.screen, Screen::Consent, "consent not ticked");
    }

    #[test]
    fn returning_candidates_see_their_status_and_may_withdraw_while_pending() {
        let mut s = Session::new(rules(0, false));
        s.open = true;
        s.handle(Event::Start);
        let previous = PreviousRecord {
            record_id: "r1".into(),
            review: Some(ReviewState::PendingReview),
            status_line: "待审核".into(),
        };
        s.handle(Event::Identified {
            candidate: card_holder(),
            roster: RosterCheck::default(),
            previous: Some(previous),
            failures_so_far: 0,
        });
        assert_eq!(s.screen, Screen::Status);
        s.handle(Event::Continue);
        assert_eq!(s.screen, Screen::Status, "no retake while pending");
        assert_eq!(
            s.handle(Event::Withdraw),
            vec![Effect::Withdraw {
                record_id: "r1".into()
            }]
        );
        s.handle(Event::Withdrawn);
        s.handle(Event::Continue);
        assert_eq!(s.screen, Screen::ConfirmInfo);
    }

    #[test]
    fn idle_timeout_and_help_end_the_session_and_wipe() {
        let mut s = Session::new(rules(3, false));
        to_checks(&mut s, card_holder(), 0);
        s.handle(Event::Touch { now_ms: 1_000 });
        assert!(s.handle(Event::Tick { now_ms: 30_000 }).is_empty());
        assert_eq!(s.handle(Event::Tick { now_ms: 62_000 }), vec![Effect::Wipe]);
        assert_eq!(s.screen, Screen::Idle);
        to_checks(&mut s, card_holder(), 0);
        s.handle(Event::Help);
        assert!(s.help_open);
        assert_eq!(s.handle(Event::End), vec![Effect::Wipe]);
        assert!(!s.help_open && s.candidate.is_none());
        s.handle(Event::DeviceLost {
            what: "camera".into(),
        });
        assert_eq!(s.screen, Screen::Failsafe);
        s.handle(Event::DeviceBack);
        assert_eq!(s.screen, Screen::Idle);
    }
}
