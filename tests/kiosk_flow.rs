//! The whole kiosk driven by simulated taps (Slint's element finder and pointer events) with
//! the simulated camera and the simulated reader on a real pseudo-terminal: one full session
//! per exam profile, each ending with its record in the outbox, and then at a real hub on
//! loopback. Screens are written to target/tmp/kiosk-flow/ to look at.

use crate::common;

use capture_kiosk::catalog::Catalog;
use capture_kiosk::kiosk::app::PROFILES;
use capture_kiosk::kiosk::{headless_demo, KioskOptions};
use capture_kiosk::store::Store;
use common::hubs::{drain, fresh_dir, TestHub};

#[test]
fn one_full_session_per_profile_ends_in_the_outbox_and_at_the_hub() {
    let hub = TestHub::start("kiosk-flow");
    let token = hub.kiosk_token("kiosk-flow");
    let data = fresh_dir("kiosk-flow", "data");
    {
        let store = Store::open(&data.join("kiosk.sqlite")).unwrap();
        store.set_setting("hub_url", &hub.url).unwrap();
        store.set_setting("hub_token", &token).unwrap();
    }
    let shots = fresh_dir("kiosk-flow", "screens");
    let opts = KioskOptions::new(data.clone());
    let report =
        headless_demo(&shots, &opts, Catalog::shipped().unwrap(), &PROFILES, false).unwrap();
    assert_eq!(report.sessions.len(), PROFILES.len());
    for profile in PROFILES {
        let names: Vec<String> = report
            .screenshots
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .filter(|n| n.starts_with(&format!("{profile}-")))
            .collect();
        for screen in [
            "identify",
            "confirm-info",
            "consent",
            "guide",
            "live",
            "checks",
            "confirm",
            "receipt",
        ] {
            assert!(
                names.iter().any(|n| n.ends_with(&format!("-{screen}.png"))),
                "{profile}: no {screen} screen in {names:?}"
            );
        }
    }

    // the uploader ran beside the kiosk; whatever it has not sent yet goes now
    let db = data.join("kiosk.sqlite");
    let drained = drain(&db, 60);
    assert_eq!(drained.pending_left, 0, "{drained:?}");
    // bj-chengkao's candidate has a rare character in the name: the manual path, with the ID
    // card's photographs going to the reviewer
    let manual: Vec<_> = hub
        .hub
        .db()
        .review_items(
            capture_kiosk::hub_protocol::ReviewState::PendingReview,
            10,
            0,
        )
        .unwrap()
        .into_iter()
        .filter(|i| i.manual_review)
        .collect();
    assert_eq!(manual.len(), 1, "one manual-path record");
    assert_eq!(
        (manual[0].profile.as_str(), manual[0].documents),
        ("bj-chengkao", 3)
    );
    let mut at_hub = hub.hub.db().record_ids().unwrap();
    at_hub.sort();
    let mut submitted: Vec<String> = report.sessions.iter().map(|(_, r)| r.clone()).collect();
    submitted.sort();
    assert_eq!(at_hub, submitted);
    println!("screens in {}", shots.display());
}
