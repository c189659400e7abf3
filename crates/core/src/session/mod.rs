//! The candidate's session as a pure state machine: events in, the next screen and the effects
//! the kiosk must carry out (camera on/off, checks, verification, submit, wipe) out. It knows
//! no window, device or database; `src/kiosk/` runs the effects and feeds back their results.
//!
//! idle →(staff unlock)→ identify → confirm info → consent → guide → live → checks →
//! verification → confirm → receipt, with the manual path (R-MANUAL), the status of a
//! returning candidate (R-STATUS), help and the idle timeout (R-HELP), and a failsafe screen
//! when a device is lost.

mod camera;
pub mod identify;
pub mod keypad;
mod reading;
pub mod staff_pin;
mod vocabulary;

use camera::{CameraHealth, Documents, LastCode, Shutter};
pub use camera::{COUNTDOWN_MS, DOCUMENTS, STEADY_MS};

pub use vocabulary::{Candidate, Effect, Event, PreviousRecord, Screen};

use crate::catalog::{AfterAttempts, ExamProfile, IdentityCheck};
use crate::hub_protocol::ReviewState;
use identify::RosterCheck;

/// The rules a profile gives the session.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    pub verify_faces: bool,
    pub attempt_limit: u32,
    /// After the limit: the manual path, or collection failed (bj-chengkao).
    pub fail_collection_after_limit: bool,
    pub consent_pre_ticked: bool,
    /// A returning candidate may withdraw a record still pending review (R-STATUS).
    pub withdraw_allowed: bool,
    pub idle_timeout_ms: i64,
}

impl Rules {
    pub fn from_profile(p: &ExamProfile) -> Rules {
        Rules {
            verify_faces: p.identity_check == IdentityCheck::FaceVsId,
            attempt_limit: p.attempt_limit,
            fail_collection_after_limit: p.after_attempts == AfterAttempts::CollectionFailed,
            consent_pre_ticked: p.consent_pre_ticked,
            withdraw_allowed: p.withdraw_allowed,
            idle_timeout_ms: 120_000,
        }
    }
}

/// A notice on the current screen.
pub type Notice = crate::text::Bilingual;

#[derive(Clone, Debug)]
pub struct Session {
    screen: Screen,
    rules: Rules,
    /// Staff opened collection: candidates may start.
    open: bool,
    help_open: bool,
    candidate: Option<Candidate>,
    roster: RosterCheck,
    previous: Option<PreviousRecord>,
    consent_ticked: bool,
    checks_passed: bool,
    failures: u32,
    verified: Option<bool>,
    manual_review: bool,
    receipt: Option<(String, i64)>,
    notice: Option<Notice>,
    busy: bool,
    last_touch_ms: i64,
    screen_before_failsafe: Screen,
    shutter: Shutter,
    documents: Documents,
    camera: CameraHealth,
    /// The camera was lost (the failsafe screen waits for its first good frame).
    camera_lost: bool,
    last_code: LastCode,
    /// Wrong staff PINs in a row, and until when the PIN keypad waits after too many.
    wrong_pins: u32,
    pin_wait_until: i64,
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
            shutter: Shutter::default(),
            documents: Documents::default(),
            camera: CameraHealth::default(),
            camera_lost: false,
            last_code: LastCode::default(),
            wrong_pins: 0,
            pin_wait_until: 0,
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
        let camera_in_use = self.screen.camera_on() || self.documents.running;
        self.documents = Documents::default();
        self.last_code = LastCode::default();
        if camera_in_use {
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
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let before = self.screen;
        let fx = self.decide(event);
        if self.screen != before {
            // timing belongs to the screen it was started on
            self.shutter = Shutter::default();
            self.camera = CameraHealth::default();
        }
        if self.screen != Screen::Failsafe {
            // however the failsafe screen was left (the camera back, staff), a later failsafe
            // for another cause must not wait for the camera
            self.camera_lost = false;
        }
        fx
    }

    /// The device was lost: the failsafe screen, a candidate's session ended.
    fn device_lost(&mut self, what: String, fx: &mut Vec<Effect>) {
        let s = self.screen;
        if s == Screen::Failsafe {
            return;
        }
        self.screen_before_failsafe = if s.in_session() { Screen::Idle } else { s };
        if s.camera_on() || self.documents.running {
            fx.push(Effect::StopCamera);
        }
        if s.in_session() {
            self.wipe(fx);
        }
        self.screen = Screen::Failsafe;
        self.notice = Some(Notice {
            zh: format!("设备故障：{what}，请联系工作人员"),
            en: format!("Device problem: {what}. Please ask the staff."),
        });
    }

    /// The shutter goes: the camera stops and the checks run on its last frame.
    fn take_photo(&mut self, fx: &mut Vec<Effect>) {
        self.busy = true;
        fx.push(Effect::StopCamera);
        fx.push(Effect::RunChecks);
        self.go(Screen::Checks);
    }

    // `if`s inside arms are deliberate: as guards, a refused event would fall through to a
    // later arm (a refused retake on the status screen would end the session).
    #[allow(clippy::collapsible_match)]
    fn decide(&mut self, event: Event) -> Vec<Effect> {
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
                if self.screen == S::Live && self.shutter.fires(now_ms) {
                    self.take_photo(&mut fx);
                }
                if self.screen == S::Manual && self.documents.due(now_ms) {
                    fx.push(Effect::PhotographDocument);
                }
            }
            (s, E::CameraFrame { now_ms, good }) => {
                self.camera.frame();
                if let (S::Live, Some(good)) = (s, good) {
                    self.shutter.frame(good, now_ms);
                }
            }
            (s, E::CameraFailed { what, now_ms })
                if (s.camera_on() || self.documents.running) && self.camera.failed(now_ms) =>
            {
                self.camera_lost = true;
                self.device_lost(format!("camera: {what}"), &mut fx);
            }
            (S::Live, E::ShutterPressed { now_ms }) => self.shutter.button(now_ms),
            (S::ScanCode, E::CodeSeen { text, now_ms }) => {
                if self.last_code.fresh(&text, now_ms) {
                    fx.push(Effect::JudgeCode { text });
                }
            }
            (s, E::ProfileChosen { rules }) if !s.in_session() => self.rules = rules,
            (S::Failsafe, E::DeviceBack) => {
                self.camera_lost = false;
                self.screen = self.screen_before_failsafe;
                if self.screen == S::Live {
                    fx.push(Effect::StartCamera);
                }
            }
            (_, E::DeviceLost { what }) => self.device_lost(what, &mut fx),
            (_, E::Help) => self.help_open = true,
            (_, E::CloseHelp) => self.help_open = false,
            (s, E::End) if s.in_session() => self.wipe(&mut fx),
            (S::Idle | S::Failsafe, E::StaffEntry) => self.go(S::StaffPin),
            (S::StaffPin, E::PinChecked { ok: true }) => {
                self.wrong_pins = 0;
                self.go(S::StaffMenu);
            }
            (S::StaffPin, E::PinChecked { ok: false }) => {
                self.wrong_pins += 1;
                let wait = staff_pin::wait_after(self.wrong_pins);
                if wait > 0 {
                    // from the last digit's touch: the check itself took milliseconds
                    self.pin_wait_until = self.last_touch_ms + wait;
                    let s = wait / 1000;
                    self.notice = Some(Notice {
                        zh: format!("PIN 错误次数过多，请 {s} 秒后再试"),
                        en: format!("Too many wrong PINs; try again in {s} s"),
                    });
                } else {
                    self.notice = notice("PIN 不正确", "Wrong PIN");
                }
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
            (S::Identify | S::ScanCode, E::IdentifyFailed(why)) => self.notice = Some(why),
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
            (S::Status, E::WithdrawFailed { reason }) => {
                self.busy = false;
                // the hub link's reason is written "中文 / English": each window its own half,
                // kept for the staff the candidate is sent to
                let why = crate::text::Bilingual::from_message(&reason);
                self.notice = Some(Notice {
                    zh: format!("暂时无法撤回，请稍后再试或联系工作人员（{}）", why.zh),
                    en: format!(
                        "cannot withdraw now ({}); try later or ask the staff",
                        why.en
                    ),
                });
            }
            (S::Status, E::Withdrawn) => {
                if let Some(p) = &mut self.previous {
                    p.review = Some(ReviewState::Withdrawn);
                    p.status_line = "已撤回 · withdrawn".into();
                }
                self.busy = false;
            }
            (S::Status, E::Withdraw) => {
                // withdraw only while pending review, where the profile allows it (R-STATUS):
                // decided here, not only by the button being hidden
                let record = self.previous.as_ref().map(|p| p.record_id.clone());
                if let Some(record_id) = record.filter(|_| self.can_withdraw() && !self.busy) {
                    self.busy = true;
                    fx.push(Effect::Withdraw { record_id });
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
            // the shutter at once (the automatic one and the button's go through the countdown)
            (S::Live, E::Continue) => self.take_photo(&mut fx),
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
            (S::Manual, E::Continue) if !self.busy => {
                self.busy = true;
                self.documents.start();
                fx.push(Effect::CaptureDocuments);
            }
            (S::Manual, E::DocumentMissed { now_ms }) => self.documents.missed(now_ms),
            (S::Manual, E::DocumentTaken { now_ms }) => {
                if self.documents.taken(now_ms) {
                    fx.push(Effect::StopCamera);
                    self.busy = false;
                    self.manual_review = true;
                    self.go(S::Confirm);
                }
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
mod tests;
