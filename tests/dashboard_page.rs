//! The collection-day dashboard in headless Chromium: a staff member logs in on the hub's login
//! page and lands on the dashboard, which draws a day of records from six kiosks (collected
//! per hour, backlogs, a silent kiosk, decisions and reasons) and then redraws by itself when
//! more records arrive. Screenshots go to target/tmp/dashboard/screens/ to look at.

use crate::common;

use capture_kiosk::hub::db::{DuplicateFlag, NewRecord};
use capture_kiosk::hub_protocol::{Decision, OutboxReport, RecordMeta, RejectReason};
use capture_kiosk::store::now_ms;
use common::browser::Browser;
use common::hubs::{fresh_dir, TestHub};
use std::time::Duration;

const HOUR: i64 = 3_600_000;

/// Stores a record captured at `at` at kiosk `kiosk_id` (straight into the hub's database: the
/// page only counts, so no photo is needed) and returns its id.
fn record(hub: &TestHub, kiosk_id: &str, candidate: &str, at: i64) -> String {
    let meta = RecordMeta {
        key: uuid::Uuid::now_v7().to_string(),
        profile: "chsi-graduation".into(),
        batch_id: "B2026".into(),
        candidate_key: candidate.into(),
        spec: "chsi".into(),
        captured_at_ms: at,
        verification_distance: Some(0.3),
        manual_review: false,
    };
    let none: [DuplicateFlag; 0] = [];
    hub.hub
        .db()
        .insert_record(&NewRecord {
            meta: &meta,
            kiosk_id,
            fingerprint: "f",
            photo_file: "",
            photo_bytes: 0,
            phash: &[],
            report: "{}",
            duplicates: &none,
            documents: 0,
        })
        .unwrap();
    meta.key
}

fn decide(hub: &TestHub, id: &str, approve: bool, reasons: Vec<RejectReason>) {
    hub.hub
        .db()
        .decide(
            id,
            "reviewer-d",
            &Decision {
                approve,
                reasons,
                note: String::new(),
            },
        )
        .unwrap()
        .unwrap();
}

fn seen(hub: &TestHub, kiosk_id: &str, ago_ms: i64, outbox: Option<(u32, u32, u32)>) {
    let report = outbox.map(|(pending, oldest_age_s, quarantined)| OutboxReport {
        pending,
        oldest_age_s,
        quarantined,
    });
    hub.hub
        .db()
        .kiosk_seen(kiosk_id, report, now_ms() - ago_ms)
        .unwrap();
}

#[test]
fn staff_watch_the_collection_day_live_in_the_browser() {
    let hub = TestHub::start("dashboard-page");
    hub.hub
        .db()
        .add_staff("staff-d", "correct horse battery")
        .unwrap();
    let names = [
        "图书馆 1号",
        "图书馆 2号",
        "体育馆 1号",
        "体育馆 2号",
        "备用 1号",
        "备用 2号",
    ];
    let kiosks: Vec<String> = names
        .iter()
        .map(|n| hub.hub.db().add_kiosk(n).unwrap().0)
        .collect();
    // nine hours of a collection day: the morning busy, a lunch dip, kiosks opening later
    let now = now_ms();
    let mut ids = Vec::new();
    let mut candidate = 0;
    for hour in 0..9i64 {
        for (k, id) in kiosks.iter().enumerate().take(4) {
            let opened = k < 2 || hour < 7;
            let n = if !opened {
                0
            } else if hour == 4 {
                4
            } else {
                8 + ((hour * 5 + k as i64 * 3) % 11)
            };
            for i in 0..n {
                candidate += 1;
                let base = now - now % HOUR - (8 - hour) * HOUR;
                let at = (base + (i + 1) * HOUR / (n + 1)).min(now - 1000);
                ids.push(record(&hub, id, &format!("44010620260{candidate:05}"), at));
            }
        }
    }
    let reasons = [
        vec![RejectReason::Glasses],
        vec![RejectReason::HairOverBrows, RejectReason::Glasses],
        vec![RejectReason::Background],
        vec![RejectReason::Glasses, RejectReason::GlassesGlare],
        vec![RejectReason::Pose],
        vec![RejectReason::HairOverBrows],
        vec![RejectReason::Exposure],
    ];
    for (n, id) in ids.iter().enumerate().filter(|(n, _)| n % 3 != 2) {
        if n % 8 == 1 {
            decide(&hub, id, false, reasons[n / 8 % reasons.len()].clone());
        } else {
            decide(&hub, id, true, Vec::new());
        }
    }
    seen(&hub, &kiosks[0], 20_000, Some((0, 0, 0)));
    seen(&hub, &kiosks[1], 45_000, Some((7, 14 * 60, 0)));
    seen(&hub, &kiosks[2], 5_000, Some((23, 48 * 60, 1)));
    // older kiosk software: heard from, no outbox figures
    seen(&hub, &kiosks[3], 30_000, None);
    seen(&hub, &kiosks[4], 25 * 60_000, Some((5, 31 * 60, 0)));
    // kiosks[5] was registered and never heard from

    let browser = Browser::start("dashboard");
    // the whole page in one screenshot
    browser.session_call(
        "POST",
        "/window/rect",
        serde_json::json!({"width": 1280, "height": 1900}),
    );
    browser.go(&format!("{}/dashboard", hub.url));
    browser.wait_for("document.querySelector('#user')");
    let shots = fresh_dir("dashboard", "screens");
    browser.screenshot(&shots.join("login.png"));
    browser.type_into("#user", "staff-d");
    browser.type_into("#password", "correct horse battery");
    browser.click("#login");
    browser.wait_for("location.pathname === '/dashboard' && document.body.dataset.updated");
    let text = |css: &str| {
        browser
            .script(&format!(
                "return document.querySelector('{css}').textContent;"
            ))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let total = ids.len();
    let tiles = text("#tiles");
    assert!(tiles.contains(&total.to_string()), "{tiles}");
    let silent = text("#silent");
    assert!(
        silent.contains("备用 1号") && silent.contains("备用 2号") && silent.contains("never"),
        "{silent}"
    );
    assert!(!silent.contains("图书馆"), "{silent}");
    let backlog = text("#backlog");
    assert!(backlog.contains("23 waiting"), "{backlog}");
    assert!(backlog.contains("oldest 48 min"), "{backlog}");
    assert!(backlog.contains("1 refused"), "{backlog}");
    assert!(backlog.contains("not reported"), "{backlog}");
    let reasons_shown = text("#reasons");
    assert!(reasons_shown.starts_with("佩戴眼镜"), "{reasons_shown}");
    let bars = browser
        .script("return document.querySelectorAll('#hourly rect').length;")
        .as_i64()
        .unwrap_or(0);
    assert!(bars >= 30, "{bars} bars in the hourly chart");
    // counts and kiosks only: no candidate number on the page
    let page = text("body");
    assert!(
        !page.contains("4401062026"),
        "a candidate number on the page"
    );

    browser.screenshot(&shots.join("dashboard.png"));

    // the page redraws by itself: 25 more records at the first kiosk, its backlog emptied
    let before = browser
        .script("return document.body.dataset.updated;")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for i in 0..25 {
        record(
            &hub,
            &kiosks[0],
            &format!("44010620269{i:05}"),
            now_ms() - 1000,
        );
    }
    seen(&hub, &kiosks[1], 0, Some((0, 0, 0)));
    browser.wait_for(&format!(
        "document.querySelector('#tiles').textContent.includes('{}')",
        total + 25
    ));
    assert_ne!(
        browser
            .script("return document.body.dataset.updated;")
            .as_str(),
        Some(before.as_str())
    );
    let backlog = text("#backlog");
    assert!(!backlog.contains("7 waiting"), "{backlog}");
    std::thread::sleep(Duration::from_millis(300));
    browser.screenshot(&shots.join("dashboard-updated.png"));
    println!("screenshots in {}", shots.display());
}
