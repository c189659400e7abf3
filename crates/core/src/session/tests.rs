//! The session's flows, event by event.

use super::*;

fn rules(limit: u32, fail: bool) -> Rules {
    Rules {
        verify_faces: true,
        attempt_limit: limit,
        fail_collection_after_limit: fail,
        consent_pre_ticked: false,
        withdraw_allowed: true,
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
        .handle(Event::IdentifyFailed(crate::text::Bilingual::new(
            "不是采集码",
            "not a code"
        )))
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
    take_documents(&mut s, 0);
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
    assert!(
        s.handle(Event::Withdraw).is_empty(),
        "one withdrawal at a time"
    );
    s.handle(Event::Withdrawn);
    assert!(!s.can_withdraw(), "withdrawn already");
    s.handle(Event::Continue);
    assert_eq!(s.screen, Screen::ConfirmInfo);

    // a profile that does not allow it: refused by the session, whatever the window shows
    let mut strict = Session::new(Rules {
        withdraw_allowed: false,
        ..rules(0, false)
    });
    strict.open = true;
    strict.handle(Event::Start);
    strict.handle(Event::Identified {
        candidate: card_holder(),
        roster: RosterCheck::default(),
        previous: Some(PreviousRecord {
            record_id: "r2".into(),
            review: Some(ReviewState::PendingReview),
            status_line: "待审核".into(),
        }),
        failures_so_far: 0,
    });
    assert_eq!(strict.screen, Screen::Status);
    assert!(!strict.can_withdraw());
    assert!(strict.handle(Event::Withdraw).is_empty());
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

/// The manual path's three photographs, each asked for by a tick after its countdown (the
/// second one missed once: the camera had no frame); the camera stops after the last. Idle
/// timeouts are kept away by touches.
fn take_documents(s: &mut Session, start: i64) {
    let mut now = start;
    let tick = |s: &mut Session, now_ms: i64| {
        s.handle(Event::Touch { now_ms });
        s.handle(Event::Tick { now_ms })
    };
    for n in 0..DOCUMENTS {
        assert!(tick(s, now).is_empty(), "document {n}: the countdown runs");
        assert!(s.countdown_until().is_some_and(|t| t > now));
        now += COUNTDOWN_MS;
        assert_eq!(
            tick(s, now),
            vec![Effect::PhotographDocument],
            "document {n} is due"
        );
        assert!(tick(s, now + 1).is_empty(), "asked for once");
        if n == 1 {
            s.handle(Event::DocumentMissed { now_ms: now + 2 });
            assert_eq!(
                tick(s, now + 3),
                vec![Effect::PhotographDocument],
                "tried again"
            );
        }
        let fx = s.handle(Event::DocumentTaken { now_ms: now });
        assert_eq!(s.documents_taken(), n + 1);
        if n + 1 < DOCUMENTS {
            assert!(fx.is_empty());
            assert_eq!(s.screen, Screen::Manual);
        } else {
            assert_eq!(fx, vec![Effect::StopCamera]);
            assert_eq!(s.screen, Screen::Confirm);
        }
    }
}

#[test]
fn the_shutter_waits_for_a_steady_good_position_then_counts_down() {
    let mut s = Session::new(rules(3, false));
    to_checks(&mut s, card_holder(), 0);
    s.handle(Event::Retake);
    assert_eq!(s.screen, Screen::Live);
    let frame = |s: &mut Session, now_ms: i64, good: bool| {
        s.handle(Event::Touch { now_ms });
        s.handle(Event::CameraFrame {
            now_ms,
            good: Some(good),
        });
        s.handle(Event::Tick { now_ms })
    };
    assert!(frame(&mut s, 1_000, true).is_empty());
    assert!(frame(&mut s, 1_000 + STEADY_MS, true).is_empty());
    let end = 1_000 + STEADY_MS + COUNTDOWN_MS;
    assert_eq!(s.countdown_until(), Some(end));
    // stepping out stops the automatic countdown
    assert!(frame(&mut s, 2_500, false).is_empty());
    assert_eq!(s.countdown_until(), None);
    // the button counts down whatever the position, and the shutter goes at its end
    s.handle(Event::ShutterPressed { now_ms: 3_000 });
    assert!(frame(&mut s, 3_000 + COUNTDOWN_MS - 1, false).is_empty());
    assert_eq!(
        frame(&mut s, 3_000 + COUNTDOWN_MS, false),
        vec![Effect::StopCamera, Effect::RunChecks]
    );
    assert_eq!((s.screen, s.busy()), (Screen::Checks, true));
}

#[test]
fn a_camera_failing_past_its_grace_stops_the_session_and_its_return_resumes() {
    let mut s = Session::new(rules(3, false));
    to_checks(&mut s, card_holder(), 0);
    s.handle(Event::Retake);
    let failed = |s: &mut Session, now_ms| {
        s.handle(Event::CameraFailed {
            what: "unplugged".into(),
            now_ms,
        })
    };
    assert!(failed(&mut s, 10_000).is_empty());
    assert!(
        failed(&mut s, 12_000).is_empty(),
        "a short gap is not a loss"
    );
    s.handle(Event::CameraFrame {
        now_ms: 12_500,
        good: None,
    });
    assert!(
        failed(&mut s, 13_000).is_empty(),
        "a good frame starts the grace again"
    );
    let fx = failed(&mut s, 16_001);
    assert!(
        fx.contains(&Effect::StopCamera) && fx.contains(&Effect::Wipe),
        "{fx:?}"
    );
    assert_eq!(s.screen, Screen::Failsafe);
    assert!(s.camera_lost());
    assert!(s
        .notice()
        .is_some_and(|n| n.en.contains("camera: unplugged")));
    s.handle(Event::DeviceBack);
    assert_eq!(s.screen, Screen::Idle);
    assert!(!s.camera_lost());
}

#[test]
fn the_same_code_in_view_is_judged_once_and_a_failed_withdraw_is_told() {
    let mut s = Session::new(rules(3, false));
    s.handle(Event::StaffEntry);
    s.handle(Event::PinChecked { ok: true });
    s.handle(Event::StaffOpen);
    s.handle(Event::Start);
    s.handle(Event::CodeNeeded);
    assert_eq!(s.screen, Screen::ScanCode);
    let seen = |s: &mut Session, text: &str, now_ms| {
        s.handle(Event::CodeSeen {
            text: text.into(),
            now_ms,
        })
    };
    assert_eq!(
        seen(&mut s, "A", 0),
        vec![Effect::JudgeCode { text: "A".into() }]
    );
    assert!(seen(&mut s, "A", 3_999).is_empty());
    assert_eq!(seen(&mut s, "B", 4_000).len(), 1);
    assert_eq!(seen(&mut s, "A", 4_000).len(), 1);

    // rules change only between candidates
    let strict = rules(1, true);
    s.handle(Event::ProfileChosen {
        rules: strict.clone(),
    });
    assert_ne!(s.rules(), &strict, "not in the middle of a session");
}

#[test]
fn wrong_staff_pins_make_the_keypad_wait_and_the_right_one_resets_the_count() {
    let mut s = Session::new(rules(3, false));
    s.handle(Event::StaffEntry);
    for n in 1..=3 {
        s.handle(Event::Touch { now_ms: n * 1_000 });
        s.handle(Event::PinChecked { ok: false });
    }
    assert_eq!(s.screen, Screen::StaffPin);
    assert!(
        !s.pin_keypad_open(3_000 + 29_999),
        "30 s after the third wrong PIN"
    );
    assert!(s.pin_keypad_open(3_000 + 30_000));
    assert!(s.notice().is_some_and(|n| n.en.contains("30 s")));
    s.handle(Event::Touch { now_ms: 40_000 });
    s.handle(Event::PinChecked { ok: false });
    assert!(!s.pin_keypad_open(40_000 + 59_999), "the wait doubles");
    s.handle(Event::Touch { now_ms: 100_000 });
    s.handle(Event::PinChecked { ok: true });
    assert_eq!(s.screen, Screen::StaffMenu);
    s.handle(Event::StaffClose);
    s.handle(Event::StaffEntry);
    s.handle(Event::Touch { now_ms: 101_000 });
    s.handle(Event::PinChecked { ok: false });
    assert!(s.pin_keypad_open(101_000), "the count started again");
}

#[test]
fn leaving_the_failsafe_screen_through_staff_forgets_the_lost_camera() {
    let mut s = Session::new(rules(3, false));
    to_checks(&mut s, card_holder(), 0);
    s.handle(Event::Retake);
    s.handle(Event::CameraFailed {
        what: "unplugged".into(),
        now_ms: 0,
    });
    s.handle(Event::CameraFailed {
        what: "unplugged".into(),
        now_ms: 5_000,
    });
    assert!(s.camera_lost());
    s.handle(Event::StaffEntry);
    assert!(
        !s.camera_lost(),
        "a later failsafe (a database error) must not wait for it"
    );
}
