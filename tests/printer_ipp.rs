//! The printer's state read over real IPP from a simulated CUPS queue on loopback: each state
//! CUPS reports maps to what staff are told, a CUPS that does not answer is "offline", a job
//! waiting too long is "stuck" with its age, and a reprint is refused (nothing sent to `lp`)
//! unless the printer can print.

use capture_kiosk::kiosk::print::{print_sheet, PrintSetup, Printed};
use capture_kiosk::kiosk::printer_sim::{SimPrinter, SimQueue};
use capture_kiosk::kiosk::printer_state::{ask, PrinterState};
use std::time::Duration;

fn sim(queue: SimQueue) -> SimPrinter {
    SimPrinter::start("kiosk-photo", queue).expect("the printer simulator starts")
}

#[test]
fn each_state_cups_reports_is_told_to_staff() {
    let printer = sim(SimQueue::ready());
    let state = |q: SimQueue| {
        printer.set(q);
        ask(&printer.url(), "kiosk-photo").expect("the simulator answers")
    };
    assert_eq!(state(SimQueue::ready()), PrinterState::Ready);
    assert_eq!(
        state(SimQueue {
            state: 4,
            reasons: vec![],
            jobs: vec![(3, 5, Duration::from_secs(20))],
        }),
        PrinterState::Busy,
        "a job printing for 20 s is the printer at work"
    );
    assert_eq!(state(SimQueue::stopped(&["paused"])), PrinterState::Paused);
    assert_eq!(
        state(SimQueue::stopped(&["media-empty-error", "media-needed"])),
        PrinterState::OutOfPaper
    );
    assert_eq!(
        state(SimQueue::stopped(&["media-jam-error"])),
        PrinterState::Jammed
    );
    assert_eq!(
        state(SimQueue {
            state: 4,
            reasons: vec!["offline-report".into()],
            jobs: vec![],
        }),
        PrinterState::Offline
    );
    assert_eq!(
        state(SimQueue {
            state: 3,
            reasons: vec![],
            jobs: vec![
                (8, 3, Duration::from_secs(60)),
                (7, 4, Duration::from_secs(620))
            ],
        }),
        PrinterState::JobStuck {
            job_id: 7,
            age_s: 620
        },
        "the held job waiting ten minutes, not the new one"
    );
    assert_eq!(
        state(SimQueue::stopped(&["spool-area-full"])),
        PrinterState::Unknown("spool-area-full".into())
    );
    assert!(printer.asked() >= 16, "two IPP requests per question");
    // a queue CUPS does not know is an error, not a state
    let e = ask(&printer.url(), "other-queue").unwrap_err();
    assert!(format!("{e:#}").contains("NotFound"), "{e:#}");
}

#[test]
fn a_cups_that_does_not_answer_is_offline() {
    let printer = sim(SimQueue::ready());
    let url = printer.url();
    drop(printer);
    let started = std::time::Instant::now();
    assert_eq!(ask(&url, "kiosk-photo").unwrap(), PrinterState::Offline);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_reprint_is_sent_only_when_the_printer_can_print() {
    let dir = crate::common::hubs::fresh_dir("printer-ipp", "reprint");
    let lp = dir.join("fake-lp");
    std::fs::write(
        &lp,
        "#!/bin/sh\necho called >> \"$(dirname \"$0\")/lp-calls\"\necho 'request id is kiosk-photo-21 (1 file(s))'\n",
    )
    .unwrap();
    std::fs::set_permissions(&lp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let printer = sim(SimQueue::stopped(&["media-empty-error"]));
    let setup = PrintSetup {
        layout: "1in*8+2in*4".into(),
        printer: Some("kiosk-photo".into()),
        server: printer.url(),
        command: lp.to_str().unwrap().into(),
        folder: dir.join("prints"),
    };
    let photo = crate::common::hubs::test_jpeg(1);
    assert_eq!(
        print_sheet(&setup, &photo, "0190a1b2c3d4").unwrap(),
        Printed::Refused {
            queue: "kiosk-photo".into(),
            state: PrinterState::OutOfPaper
        }
    );
    assert!(!dir.join("lp-calls").exists(), "nothing went to lp");
    printer.set(SimQueue::ready());
    assert_eq!(
        print_sheet(&setup, &photo, "0190a1b2c3d4").unwrap(),
        Printed::Sent {
            queue: "kiosk-photo".into(),
            job: Some(21)
        }
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("lp-calls")).unwrap(),
        "called\n"
    );
}
